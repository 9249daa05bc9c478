"""Typed, frozen configuration: YAML files → dataclasses, strict keys, type-checked overrides."""

from avtpretrain.config.files import load_model_config, load_recipe, save_resolved
from avtpretrain.config.finetune import DownstreamConfig, FinetuneConfig
from avtpretrain.config.loader import ConfigError, from_dict, to_dict
from avtpretrain.config.model import (
    AudioTowerConfig,
    FusionConfig,
    ModelConfig,
    TextTowerConfig,
    VideoTowerConfig,
)
from avtpretrain.config.recipe import (
    DataConfig,
    ObjectivesConfig,
    OptimConfig,
    RecipeConfig,
    RunConfig,
)

__all__ = [
    "AudioTowerConfig",
    "ConfigError",
    "DataConfig",
    "DownstreamConfig",
    "FinetuneConfig",
    "FusionConfig",
    "ModelConfig",
    "ObjectivesConfig",
    "OptimConfig",
    "RecipeConfig",
    "RunConfig",
    "TextTowerConfig",
    "VideoTowerConfig",
    "from_dict",
    "load_model_config",
    "load_recipe",
    "save_resolved",
    "to_dict",
]
