"""novalite-api: the Compute and Image APIs."""

from __future__ import annotations

from novalite import service
from novalite.api.service import APIService
from novalite.cmd import _common


def main() -> None:
    _common.init()
    service.serve(APIService())
    service.wait()


if __name__ == "__main__":
    main()
