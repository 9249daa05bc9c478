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
    "decord>=0.6.0",
    "av>=12",
    "soundfile>=0.12",
    "pyyaml>=6.0",
    "tensorboard>=2.15",
    "tqdm>=4.60",
    "matplotlib>=3.7",
    "numpy>=1.24",
]

setup(
    name="avtpretrain",
    version="0.1.0",
    description="DeepSpeed pipeline for audio + video + text pretraining on WebDataset shards",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["avtpretrain", "avtpretrain.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest>=7.4", "ruff>=0.6"], "dev": ["pytest>=7.4", "ruff>=0.6"]},
)
