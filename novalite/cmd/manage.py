"""novalite-manage: operator commands (db, service, image, host, and the
built-in identity service: user, project, role, token keys)."""

from __future__ import annotations

import secrets
import sys
from typing import Any

from oslo_config import cfg

from novalite import config, exception, objects
from novalite import context as nl_context
from novalite.conf import CONF


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) if c is not None else "-" for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([sep, line(headers), sep] + [line(r) for r in cells] + [sep])


class DbCommands:
    def sync(self) -> int:
        from novalite.db import migration

        migration.db_sync()
        print(f"Database at version {migration.db_version()}")
        return 0

    def version(self) -> int:
        from novalite.db import migration

        print(migration.db_version() or "none")
        return 0


class ServiceCommands:
    def list(self) -> int:
        from novalite.objects.compute_node import ComputeNodeList
        from novalite.objects.service import ServiceList

        ctxt = nl_context.get_admin_context()
        hv = {n.host: n.hypervisor_description or n.hypervisor_type
              for n in ComputeNodeList.get_all(ctxt)}
        rows = []
        for s in ServiceList.get_all(ctxt):
            rows.append([s.id, s.binary, s.host, s.availability_zone,
                         "disabled" if s.disabled else "enabled",
                         "up" if s.is_up() else "down",
                         s.last_seen_up.isoformat() if s.last_seen_up else None,
                         s.rpc_version, hv.get(s.host) if s.binary == "novalite-compute" else ""])
        print(_table(["Id", "Binary", "Host", "Zone", "Status", "State", "Last Seen Up",
                      "RPC Version", "Hypervisor"], rows))
        return 0


class ImageCommands:
    def register(self) -> int:
        from novalite.image import api as image_api

        a = CONF.category
        image = image_api.API().register(nl_context.get_admin_context(), a.image_name, a.file,
                                         disk_format=a.disk_format,
                                         container_format=a.container_format)
        print(f"Registered image {image['name']} {image['id']} ({image['size']} bytes, "
              f"{image['disk_format']})")
        return 0

    def build_tiny(self) -> int:
        """Build the tiny test guest from Debian packages (see
        novalite.tinyguest.builder); --register adds it to the image store."""
        from novalite import tinyguest
        from novalite.tinyguest import builder

        a = CONF.category
        try:
            result = builder.build(a.output_dir, force=a.force)
        except tinyguest.TinyGuestError as e:
            print(f"image build-tiny failed: {e}", file=sys.stderr)
            return 1
        for role in builder.OUTPUTS:
            print(f"{role}: {result.path(role)}")
        if a.register:
            builder.register(result)
        return 0

    def build_debian(self) -> int:
        """Build a small Debian 12 cloud image (see novalite.image.debian);
        --register adds it to the image store."""
        from novalite.image import debian

        a = CONF.category
        try:
            result = debian.build(a.output_dir, force=a.force)
        except debian.DebianImageError as e:
            print(f"image build-debian failed: {e}", file=sys.stderr)
            return 1
        print(f"disk: {result.path}")
        if a.register:
            debian.register(result)
        return 0

    def list(self) -> int:
        from novalite.image import api as image_api

        images = image_api.API().get_all(nl_context.get_admin_context())
        print(_table(["ID", "Name", "Status", "Disk Format", "Size"],
                     [[i["id"], i["name"], i["status"], i["disk_format"], i["size"]]
                      for i in images]))
        return 0


class HostCommands:
    def prepare(self) -> int:
        """Install the packages guests need, start virtlogd and libvirtd,
        wait for libvirt and say whether guests get KVM or TCG."""
        from novalite.tinyguest import host

        try:
            host.prepare_host(timeout=CONF.category.timeout)
        except host.HostError as e:
            print(f"host prepare failed: {e}", file=sys.stderr)
            return 1
        return 0

    def cleanup(self) -> int:
        from novalite import hostcleanup

        return hostcleanup.cleanup(CONF.category.yes)


def _password(a: Any) -> tuple[str, bool]:
    """The password from --password-file or --password; a generated one
    (and True) when neither is given."""
    if a.password_file:
        with open(a.password_file) as f:
            return f.read().rstrip("\n"), False
    if a.password:
        return a.password, False
    return secrets.token_urlsafe(18), True


def _identity_errors(fn: Any) -> Any:
    def wrapper(self: Any) -> int:
        try:
            return fn(self)
        except exception.NovaliteException as e:
            print(f"{CONF.category.name} {CONF.category.action} failed: "
                  f"{e.format_message()}", file=sys.stderr)
            return 1
    wrapper.__doc__ = fn.__doc__
    return wrapper


class UserCommands:
    @_identity_errors
    def create(self) -> int:
        from novalite.identity import manager

        a = CONF.category
        password, generated = _password(a)
        user = manager.create_user(a.user_name, password, a.project, a.role)
        print(f"Created user {user['name']} {user['id']}"
              + (f" with role {a.role} on project {a.project}" if a.project else ""))
        if generated:
            print(f"Password: {password}")
        return 0

    @_identity_errors
    def set_password(self) -> int:
        from novalite.identity import manager

        a = CONF.category
        password, generated = _password(a)
        user = manager.set_password(a.user_name, password)
        print(f"Password of {user['name']} changed (lockouts cleared, "
              "tokens issued before revoked)")
        if generated:
            print(f"Password: {password}")
        return 0

    def list(self) -> int:
        from novalite.identity import store

        projects = {p["id"]: p["name"] for p in store.project_list()}
        rows = []
        for u in store.user_list():
            roles = sorted(f"{r['role']}@{projects.get(r['project_id'], r['project_id'])}"
                           for r in store.role_assignment_list(user_id=u["id"]))
            rows.append([u["id"], u["name"], "yes" if u["enabled"] else "no",
                         projects.get(u["default_project_id"] or ""), ", ".join(roles)])
        print(_table(["ID", "Name", "Enabled", "Default Project", "Roles"], rows))
        return 0


class ProjectCommands:
    @_identity_errors
    def create(self) -> int:
        from novalite.identity import manager

        a = CONF.category
        project = manager.create_project(a.project_name, a.description or "")
        print(f"Created project {project['name']} {project['id']}")
        return 0

    def list(self) -> int:
        from novalite.identity import store

        print(_table(["ID", "Name", "Enabled", "Description"],
                     [[p["id"], p["name"], "yes" if p["enabled"] else "no", p["description"]]
                      for p in store.project_list()]))
        return 0


class RoleCommands:
    @_identity_errors
    def add(self) -> int:
        from novalite.identity import manager

        a = CONF.category
        added = manager.add_role(a.user, a.project, a.role_name)
        print(f"{'Gave' if added else 'Already had:'} {a.user} role {a.role_name} "
              f"on project {a.project}")
        return 0


class TokenCommands:
    def setup_keys(self) -> int:
        """Create the Fernet key repository (0700, keys 0600) unless it exists."""
        from novalite.identity import fernet

        numbers = fernet.setup()
        print(f"Key repository {fernet.key_repository()}: keys {numbers}")
        return 0

    def rotate_keys(self) -> int:
        """A new primary key; tokens from keys beyond [identity] max_active_keys
        stop validating. Every API reading the repository picks it up."""
        from novalite.identity import fernet

        numbers = fernet.rotate()
        print(f"Key repository {fernet.key_repository()}: keys {numbers} "
              f"(primary {numbers[-1]})")
        return 0


def _add_password_args(parser: Any) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", help="the password (visible to other local users "
                       "in the process list: prefer --password-file)")
    group.add_argument("--password-file", help="read the password from this file's "
                       "first line")


def _add_identity_parsers(subparsers: Any) -> None:
    from novalite.identity import ROLES

    usr = subparsers.add_parser("user", help="users of the built-in identity service")
    usr_sub = usr.add_subparsers(dest="action", required=True)
    create = usr_sub.add_parser("create", help="create a user (with a role on a project, "
                                "made if missing); a password is generated when none is given")
    create.add_argument("user_name", metavar="NAME")
    _add_password_args(create)
    create.add_argument("--project", help="project (name) the user gets --role on; "
                        "also the user's default project")
    create.add_argument("--role", default="member", choices=ROLES)
    setpw = usr_sub.add_parser("set-password", help="set a user's password (clears its "
                                "lockouts and revokes its tokens)")
    setpw.add_argument("user_name", metavar="NAME")
    _add_password_args(setpw)
    usr_sub.add_parser("list", help="list users and their roles")
    usr.set_defaults(command=UserCommands)

    prj = subparsers.add_parser("project", help="projects of the built-in identity service")
    prj_sub = prj.add_subparsers(dest="action", required=True)
    pcreate = prj_sub.add_parser("create", help="create a project")
    pcreate.add_argument("project_name", metavar="NAME")
    pcreate.add_argument("--description", default="")
    prj_sub.add_parser("list", help="list projects")
    prj.set_defaults(command=ProjectCommands)

    rol = subparsers.add_parser("role", help="role assignments")
    rol_sub = rol.add_subparsers(dest="action", required=True)
    radd = rol_sub.add_parser("add", help="give a user a role on a project")
    radd.add_argument("role_name", metavar="ROLE", choices=ROLES)
    radd.add_argument("--user", required=True, help="user name or id")
    radd.add_argument("--project", required=True, help="project name or id")
    rol.set_defaults(command=RoleCommands)

    tok = subparsers.add_parser("token", help="token keys")
    tok_sub = tok.add_subparsers(dest="action", required=True)
    tok_sub.add_parser("setup-keys", help="create the Fernet key repository")
    tok_sub.add_parser("rotate-keys", help="add a new primary Fernet key")
    tok.set_defaults(command=TokenCommands)


def _add_parsers(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser("sync", help="upgrade the schema to the latest version")
    db_sub.add_parser("version", help="print the schema version")
    db.set_defaults(command=DbCommands)

    svc = subparsers.add_parser("service", help="services")
    svc_sub = svc.add_subparsers(dest="action", required=True)
    svc_sub.add_parser("list", help="list services, up or down")
    svc.set_defaults(command=ServiceCommands)

    img = subparsers.add_parser("image", help="images")
    img_sub = img.add_subparsers(dest="action", required=True)
    reg = img_sub.add_parser("register", help="register an image from a local file")
    reg.add_argument("image_name", metavar="NAME")
    reg.add_argument("--file", required=True)
    reg.add_argument("--disk-format", default="raw")
    reg.add_argument("--container-format", default="bare")
    img_sub.add_parser("list", help="list images")
    tiny = img_sub.add_parser("build-tiny", help="build the tiny test guest from Debian "
                              "packages (kernel + ramdisk, and a qcow2 disk)")
    tiny.add_argument("--output-dir", default=None,
                      help="where the images and the package cache go (default: "
                           "$XDG_CACHE_HOME/novalite-tiny, or /var/cache/novalite-tiny as root)")
    tiny.add_argument("--register", action="store_true",
                      help="also register the images in the image store")
    tiny.add_argument("--force", action="store_true",
                      help="rebuild even when the last build is up to date")
    deb = img_sub.add_parser("build-debian", help="build a small Debian 12 cloud image "
                             "(debootstrap, cloud kernel, cloud-init, openssh-server, "
                             "qemu-guest-agent) as a qcow2 disk")
    deb.add_argument("--output-dir", default=None,
                     help="where the image is cached (default: "
                          "/var/cache/novalite-ci/debian-12 as root)")
    deb.add_argument("--register", action="store_true",
                     help="also register the image (debian-12) in the image store")
    deb.add_argument("--force", action="store_true",
                     help="rebuild even when the cached build has the same inputs")
    img.set_defaults(command=ImageCommands)

    hst = subparsers.add_parser("host", help="this host")
    hst_sub = hst.add_subparsers(dest="action", required=True)
    prep = hst_sub.add_parser("prepare", help="install and start what guests need "
                              "(Debian packages, virtlogd, libvirtd); report KVM or TCG")
    prep.add_argument("--timeout", type=float, default=30.0,
                      help="seconds to wait for libvirtd to answer")
    from novalite import hostcleanup

    hostcleanup.add_parser(hst_sub)
    hst.set_defaults(command=HostCommands)

    _add_identity_parsers(subparsers)
    from novalite.network import manage as network_manage

    network_manage.add_parser(subparsers)
    from novalite import doctor

    doctor.add_parser(subparsers)


category_opt = cfg.SubCommandOpt("category", title="Command categories",
                                 handler=_add_parsers)


def main(argv: list[str] | None = None) -> int:
    config.parse_args(argv if argv is not None else sys.argv, cli_opts=[category_opt])
    config.setup_logging()
    objects.register_all()
    cmd = CONF.category.command()
    return getattr(cmd, CONF.category.action.replace("-", "_"))()


if __name__ == "__main__":
    sys.exit(main())
