"""`tools/inspect_shards.py D`: check shards against the contract in format.py and summarise them.

Checks: every tar opens and reads to the end; the files of a sample are consecutive; extensions are
the expected ones, each once per sample; every sample has json, txt and a video; keys are unique
across shards; sizes.json matches; the first --decode samples of each shard decode (json, UTF-8
text, video with decord as training reads it, flac with soundfile). Exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from avtpretrain.contract import format as fmt

KNOWN_EXTS = fmt.VIDEO_EXTS | {fmt.META_EXT, fmt.TEXT_EXT, fmt.AUDIO_EXT}


@dataclass
class ShardReport:
    name: str
    samples: int = 0
    bytes: int = 0
    with_audio: int = 0
    keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _samples(tar: tarfile.TarFile, report: ShardReport):
    """Yield (key, {ext: bytes}) in tar order, recording contract problems on the way."""
    closed: set[str] = set()
    key, members = None, {}
    for info in tar:
        split = fmt.split_member(info.name) if info.isfile() else None
        if split is None:
            continue
        name_key, ext = split
        if name_key != key:
            if key is not None:
                yield key, members
                closed.add(key)
            if name_key in closed:
                report.problems.append(f"{name_key}: files not consecutive")
            key, members = name_key, {}
        if ext in members:
            report.problems.append(f"{key}: extension .{ext} repeated")
        if ext not in KNOWN_EXTS:
            report.problems.append(f"{key}: unexpected extension .{ext}")
        members[ext] = tar.extractfile(info).read()
    if key is not None:
        yield key, members


def _check_sample(key: str, members: dict[str, bytes], decode: bool, report: ShardReport) -> None:
    videos = [e for e in members if e in fmt.VIDEO_EXTS]
    missing = sorted(fmt.REQUIRED_EXTS - set(members)) + ([] if videos else ["video"])
    if missing:
        report.problems.append(f"{key}: missing {', '.join(missing)}")
        return
    report.with_audio += fmt.AUDIO_EXT in members
    if decode:
        problem = decode_problem(members, videos[0])
        if problem:
            report.problems.append(f"{key}: {problem}")


def decode_problem(members: dict[str, bytes], video_ext: str) -> str | None:
    """None when every member decodes the way training will decode it, else what failed."""
    import decord  # imported late: inspecting structure alone should not need it
    import soundfile as sf

    try:
        meta = json.loads(members[fmt.META_EXT])
        members[fmt.TEXT_EXT].decode("utf-8")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return f"json/txt unreadable ({err})"
    try:
        reader = decord.VideoReader(io.BytesIO(members[video_ext]))
        reader.get_batch([0, len(reader) - 1]).asnumpy()
    except (decord.DECORDError, RuntimeError, IndexError) as err:
        return f"video does not decode with decord ({str(err)[:120]})"
    if fmt.AUDIO_EXT in members:
        try:
            sf.read(io.BytesIO(members[fmt.AUDIO_EXT]), dtype="float32")
        except (sf.LibsndfileError, RuntimeError) as err:
            return f"audio does not decode ({err})"
    if meta.get("modalities", {}).get("audio") != (fmt.AUDIO_EXT in members):
        return "json modalities.audio disagrees with the members"
    return None


def inspect_shard(path: Path, decode: int) -> ShardReport:
    report = ShardReport(path.name, bytes=path.stat().st_size)
    try:
        with tarfile.open(path, "r") as tar:
            for i, (key, members) in enumerate(_samples(tar, report)):
                report.samples += 1
                report.keys.append(key)
                _check_sample(key, members, i < decode, report)
    except (tarfile.TarError, OSError, EOFError) as err:
        report.problems.append(f"unreadable tar ({type(err).__name__}: {err})")
    return report


def list_shards(folder: Path, problems: list[str]) -> tuple[list[Path], dict[str, int] | None]:
    tars = sorted(folder.glob("*.tar"))
    if not (folder / fmt.SIZES_FILE).is_file():
        problems.append(f"no {fmt.SIZES_FILE}")
        return tars, None
    sizes = fmt.read_sizes(folder)
    listed = {folder / name for name in sizes}
    problems += [f"{p.name}: not in {fmt.SIZES_FILE}" for p in tars if p not in listed]
    problems += [
        f"{p.name}: listed in {fmt.SIZES_FILE} but missing" for p in listed if not p.exists()
    ]
    return sorted(p for p in listed if p.exists()), sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inspect_shards.py", description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--decode", type=int, default=1, help="samples per shard to decode fully")
    p.add_argument("--show", type=int, default=20, help="problems to print at most")
    args = p.parse_args(argv)
    problems: list[str] = []
    shards, sizes = list_shards(args.folder, problems)
    if not shards:
        problems.append(f"no shards in {args.folder}")
    seen: dict[str, str] = {}
    print(f"{'shard':<28}{'samples':>9}{'listed':>8}{'audio':>7}{'MB':>9}  problems")
    # The bar goes to stderr; tqdm.write prints the table rows to stdout above it.
    for path in tqdm(shards, desc="inspecting", unit="shard", leave=False):
        report = inspect_shard(path, args.decode)
        listed = sizes.get(path.name) if sizes else None
        if listed is not None and listed != report.samples:
            report.problems.append(
                f"{fmt.SIZES_FILE} says {listed} samples, found {report.samples}"
            )
        for key in report.keys:
            if key in seen:
                report.problems.append(f"{key}: key also in {seen[key]}")
            seen.setdefault(key, path.name)
        problems += [f"{path.name}: {p}" for p in report.problems]
        tqdm.write(
            f"{path.name:<28}{report.samples:>9}{listed if listed is not None else '-':>8}"
            f"{report.with_audio:>7}{report.bytes / 1e6:>9.2f}  {len(report.problems)}"
        )
    print(f"{len(shards)} shards, {len(seen)} samples, {len(problems)} problem(s)")
    for line in problems[: args.show]:
        print(f"  problem: {line}")
    return 1 if problems else 0
