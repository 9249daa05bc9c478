"""Installs the one package of this repository, `avtpretrain`."""

from pathlib import Path

from setuptools import find_packages, setup

# Plain ranges on purpose: on these machines they resolve to a torch/torchaudio pair that imports
# together; pinning the CPU-only torch build breaks torchaudio (and transformers through it).
INSTALL_REQUIRES = [
    "torch>=2.4",
    "torchaudio>=2.4",
    "deepspeed>=0.15",
    "transformers>=4.45",
    "tokenizers>=0.20",
    # DeBERTa-v2's tokenizer is a SentencePiece model (spm.model): transformers converts it with
    # sentencepiece's protobuf schema, whose generated code refuses a protobuf runtime older than
    # it was generated with (sentencepiece 0.2.3: protobuf 7.36.1); without either package
    # transformers reports a missing `tiktoken` instead.
    "sentencepiece>=0.2.3",
    "protobuf>=7.36.1",
    "safetensors>=0.4",
    "webdataset>=0.2.90",
    "braceexpand>=0.1.7",
    # Shards behind URLs (avtpretrain/reader/remote.py): fsspec opens them, aiohttp is its http.
    "fsspec>=2024.2",
    "aiohttp>=3.9",
    # Parquet manifests (video2dataset's format) for make_shards.
    "pyarrow>=15",
    "decord>=0.6.0",
    "av>=12",
    "soundfile>=0.12",
    "pyyaml>=6.0",
    "tensorboard>=2.15",
    "tqdm>=4.60",
    "matplotlib>=3.7",
    "numpy>=1.24",
]

# `avt-<tool> = module:function`; every target is a function of argv=None returning the exit code.
CONSOLE_SCRIPTS = [
    "avt-pretrain = avtpretrain.run.cli:pretrain",
    "avt-finetune-retrieval = avtpretrain.run.cli:finetune_retrieval",
    "avt-finetune-qa = avtpretrain.run.cli:finetune_qa",
    "avt-inference-retrieval = avtpretrain.run.cli:inference_retrieval",
    "avt-inference-qa = avtpretrain.run.cli:inference_qa",
    "avt-print-config = avtpretrain.config.cli:print_config_main",
    "avt-make-demo-data = avtpretrain.demo.generate:main",
    "avt-make-shards = avtpretrain.writer.make_shards:main",
    "avt-inspect-shards = avtpretrain.writer.inspect:main",
    "avt-train-tokenizer = avtpretrain.reader.tokenizer:main",
    "avt-count-params = avtpretrain.models.params:main",
    "avt-count-flops = avtpretrain.run.flops:main",
    "avt-export = avtpretrain.engine.export:main",
    "avt-show-results = avtpretrain.eval.show:main",
    "avt-show-audio-gain = avtpretrain.eval.audio_gain:main",
    "avt-plot-summary = avtpretrain.eval.plot:main",
]

# The data folders stay at the top of the repository (the docs name them there) and are shipped
# inside the package as avtpretrain/_configs/<folder>/, where avtpretrain.config.files finds
# them when no checkout is around the package.
DATA_FOLDERS = {
    "model_configs": ["*.yaml"],
    "ds_configs": ["*.json", "*.md"],
    "pretrain": ["*.yaml"],
    "finetune": ["*.yaml", "*.md"],
}
DATA_PACKAGES = {f"avtpretrain._configs.{folder}": folder for folder in DATA_FOLDERS}

EXTRAS_REQUIRE = {
    "test": ["pytest>=7.4", "ruff>=0.6"],
    # run.report_to: [wandb] (avtpretrain/engine/logger.py); tensorboard is always installed.
    "wandb": ["wandb>=0.16"],
    # Shards in object stores (s3://, gs://): fsspec's clients for them.
    "s3": ["s3fs>=2024.2"],
    "gcs": ["gcsfs>=2024.2"],
}

setup(
    name="avtpretrain",
    version="0.1.0",
    description="DeepSpeed pipeline for audio + video + text pretraining on WebDataset shards",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=[*find_packages(include=["avtpretrain", "avtpretrain.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
    package_data={package: DATA_FOLDERS[folder] for package, folder in DATA_PACKAGES.items()},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
