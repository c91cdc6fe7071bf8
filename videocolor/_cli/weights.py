"""``videocolor weights``: download, install and list model weights."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import interrupts_held
from ..home import home_dir
from ..models import registry
from .common import guarded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor weights",
        description="Download, install and list the weights of models that are not embedded.",
        epilog=(
            "examples:\n"
            "  videocolor weights download devc\n"
            "  videocolor weights install devc ~/Downloads/colorization_checkpoint.zip\n"
            "  videocolor weights list\n\n"
            "Weights are kept in $VIDEOCOLOR_HOME, default the user cache folder."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser("download", help="fetch the official release archive and install it")
    download.add_argument("name", choices=registry.downloadable())
    download.add_argument("--url", help="download from this mirror instead of the official release")
    download.add_argument("--sha256", help="expected sha256 of the archive (verified when given)")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    install = commands.add_parser("install", help="install from a release archive already on disk")
    install.add_argument("name", choices=registry.downloadable())
    install.add_argument("archive", help="path of the release zip (e.g. colorization_checkpoint.zip)")
    install.add_argument("--sha256", help="expected sha256 of the archive (verified when given)")
    commands.add_parser("list", help="show what is installed, where, sizes, and how it was verified")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    with interrupts_held():  # imports torch (seconds): not before the arguments are parsed
        from ..models import weights

    if args.command == "download":
        found = weights.download(args.name, url=args.url, sha256=args.sha256, progress=not args.quiet)
        print(f"installed {found.name} weights in {found.path} ({_size(found.size_bytes)})")
    elif args.command == "install":
        found = weights.install(args.name, args.archive, sha256=args.sha256)
        print(f"installed {found.name} weights in {found.path} ({_size(found.size_bytes)})")
    else:
        print(f"weights folder: {home_dir()}")
        for name in registry.downloadable():
            found = weights.find_installed(name)
            if found is None:
                print(f"  {name}: not installed (videocolor weights download {name})")
                continue
            check = "sha256 verified" if found.sha256_verified else "sha256 not published; tensors verified"
            print(f"  {name}: {found.path}  {_size(found.size_bytes)}  {check}  sha256 {found.archive_sha256}")
            print(f"      from {found.source}")
    return 0


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"
