"""``python -m sbir_lib.data list | fetch NAME | info NAME``.

``NAME`` is a resource (``qmul_shoes_v1/shoes_annotation.json``,
``"quickdraw/raw/The Eiffel Tower.ndjson"``) or a dataset (``qmul_v1``, ``zeroshot``: every file).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import DataError


def _human(n) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def main(argv=None) -> int:
    from . import registry
    from .paths import cache_dir, mirror_dirs

    parser = argparse.ArgumentParser(prog="python -m sbir_lib.data", description="SBIR dataset registry")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list datasets and resources")
    p_list.add_argument("dataset", nargs="?", help="only this dataset")
    p_fetch = sub.add_parser("fetch", help="fetch a resource or every file of a dataset")
    p_fetch.add_argument("name")
    p_fetch.add_argument("--no-download", action="store_true", help="only look in mirrors and the cache")
    p_info = sub.add_parser("info", help="size, licence, citation and location of a resource or dataset")
    p_info.add_argument("name")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            datasets = [registry.get_dataset(args.dataset)] if args.dataset else list(registry.DATASETS.values())
            for ds in datasets:
                print(f"{ds.name}: {ds.title}  [{ds.license}]")
                if ds.name == "quickdraw":
                    for fmt in registry.QUICKDRAW_FORMATS:
                        print(f"  quickdraw/{fmt}/<class>{registry.QUICKDRAW_FORMATS[fmt][1]}  (345 classes)")
                for res in registry.list_resources(ds.name):
                    where = "present" if registry.locate(res.name) else ("manual" if res.manual and not res.urls else "remote")
                    print(f"  {res.name}  ({where})")
            return 0
        if args.command == "fetch":
            if args.name in registry.DATASETS:
                for name, path in registry.fetch_dataset(args.name, download_missing=not args.no_download).items():
                    print(f"{name}: {path}")
            else:
                print(registry.fetch(args.name, download_missing=not args.no_download))
            return 0
        if args.command == "info":
            if args.name in registry.DATASETS:
                ds = registry.DATASETS[args.name]
                print(f"{ds.title}\nlicence: {ds.license}\ncitation: {ds.citation}\nhome page: {ds.homepage}")
                print(f"resources: {len(registry.list_resources(ds.name))}")
            else:
                res = registry.get_resource(args.name)
                found = registry.locate(res.name)
                size = found.stat().st_size if found is not None and found.is_file() else res.size
                print(f"name: {res.name}\ndataset: {res.info.title}\nsize: {_human(size)}")
                urls = ", ".join(res.urls) or (f"inside {res.archive} ({', '.join(registry.get_resource(res.archive).urls)})"
                                               if res.archive else "(manual download)")
                print(f"sha256: {res.sha256 or 'unknown'}\nurls: {urls}")
                print(f"licence: {res.info.license}\ncitation: {res.info.citation}")
                print(f"location: {found if found is not None else 'not present'}")
                print(f"cache: {cache_dir() / res.target_name}")
            print(f"mirrors: {[str(m) for m in mirror_dirs()] or 'none (SBIR_DATA_MIRROR)'}")
            return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
