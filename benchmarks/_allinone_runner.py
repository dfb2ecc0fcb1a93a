"""novalite-all-in-one with N FakeDriver compute hosts (child process of
``bench_boot.py --mode allinone``).

It is ``novalite.cmd.all_in_one.main()`` step for step (embedded defaults:
``inproc://`` bus, SQLite, loopback; db sync; default image; logging; one
oslo.service launcher), except that the ServiceGroup holds ``--hosts``
compute services named ``bench-0`` .. ``bench-N-1`` instead of one, and the
driver is always the FakeDriver (``--driver fake``).

    python benchmarks/_allinone_runner.py --hosts 10 --state-dir DIR --port PORT \
        [--log-file FILE] [any other novalite option]

Stop it with SIGTERM (graceful, like the real binary). With the environment
variable ``NOVALITE_BENCH_RPCSTATS`` set, ``_rpcstats`` accounts CPU time by
operation into that file (diagnostics only); with ``NOVALITE_BENCH_SELECTSTATS``
set, ``_selectstats`` records each ``select_destinations``'s wall time.
"""

from __future__ import annotations

import os
import sys

from novalite import service
from novalite.cmd import all_in_one

FAKE = "fake.FakeDriver"


def _pop_hosts(argv: list[str]) -> tuple[int, list[str]]:
    hosts, rest, i = 10, [], 0
    while i < len(argv):
        if argv[i] == "--hosts":
            hosts = int(argv[i + 1])
            i += 2
            continue
        if argv[i].startswith("--hosts="):
            hosts = int(argv[i].split("=", 1)[1])
        else:
            rest.append(argv[i])
        i += 1
    return hosts, rest


def build_services(port: int, hosts: int) -> service.ServiceGroup:
    from novalite.api.service import APIService

    conductor = service.Service.create(binary="novalite-conductor")
    scheduler = service.Service.create(binary="novalite-scheduler")
    computes = [service.Service.create(binary="novalite-compute", host=f"bench-{i}",
                                       manager_kwargs={"compute_driver": FAKE})
                for i in range(hosts)]
    api = APIService(port=port)
    return service.ServiceGroup([conductor, scheduler, *computes, api])


def main() -> None:
    hosts, argv = _pop_hosts(sys.argv)
    # NOTE: the all-in-one picks libvirt when libvirtd answers; the benchmark
    # is about the control plane, so always the FakeDriver.
    if any(opt.dest == "driver" for opt in all_in_one.cli_opts):
        argv.append("--driver=fake")
    if os.environ.get("NOVALITE_BENCH_RPCSTATS"):
        import _rpcstats

        _rpcstats.install()
    if os.environ.get("NOVALITE_BENCH_SELECTSTATS"):
        import _selectstats

        _selectstats.install()
    _state_dir, port = all_in_one.prepare(argv)
    service.serve(build_services(port, hosts))
    service.wait()


if __name__ == "__main__":
    main()
