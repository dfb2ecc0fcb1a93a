"""The tiny guest's initramfs: busybox, the kernel modules it needs, the
QEMU guest agent with its libraries, and the scripts that make it a guest.

Boot: the kernel runs ``/init`` (:data:`INIT`), which mounts the pseudo
filesystems, loads the modules, mounts the config drive, configures its NICs
from ``network_data.json``, asks DHCP (busybox ``udhcpc``, :data:`UDHCPC_SCRIPT`)
for every NIC that file does not name, reads ``meta_data.json`` from the
metadata service (http://169.254.169.254) when there is no config drive, sets
the hostname, starts an HTTP server that answers ``GET /`` with its uuid,
hostname and where it learnt them, starts acpid and the guest agent, prints
the marker line and hands PID 1 to busybox init.

Without a config drive it behaves like a cloud image (cloud-init's network and
OpenStack datasource steps, cut down): each NIC's ``udhcpc`` sends 3 discovers
1 s apart, all NICs at once, so a guest on a network without DHCP reaches its
marker at most ~3 s later. The metadata service is asked only when a lease came
with a route to 169.254.169.254 (Neutron's option 121) or SMBIOS names OpenStack
(as ds-identify): 3 tries, each cut at 3 s, 1 s apart (a refused or unreachable
service costs ~2 s; one that never answers ~11 s).
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from novalite import tinyguest
from novalite.tinyguest import cpio, elf, modules

LIB_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
INTERP = "lib64/ld-linux-x86-64.so.2"
AGENT = "usr/sbin/qemu-ga"
# NOTE: uncompressed on purpose: measured under TCG, a gzip initramfs made
# direct kernel boots ~0.4 s slower (5.6 s vs 5.2 s to the marker) and disk
# boots no faster (the BIOS reads 11 MiB instead of 4.5 MiB but skips the
# inflate); the price is a bigger initrd (11 MiB) and disk (25 MiB).
COMPRESS = False

INIT = r"""#!/bin/sh
# novalite tiny guest: early setup as PID 1, then busybox init.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts

while read -r mod args; do
    # args (module parameters) split into words on purpose
    insmod "/lib/modules/$mod.ko" $args || echo "tiny: insmod $mod failed"
done < /lib/modules/load-order

valid_hostname() {
    case "$1" in ''|-*|*[!A-Za-z0-9.-]*) return 1 ;; esac
    [ "${#1}" -le 63 ]
}

cmdline_hostname() {
    for arg in $(cat /proc/cmdline); do
        case "$arg" in @PARAM@=*) echo "${arg#@PARAM@=}"; return ;; esac
    done
}

# A config drive stays mounted read-only at /mnt/config for later steps.
CD=/mnt/config/openstack/latest
mount_config_drive() {
    dev=$(findfs LABEL=config-2 2>/dev/null || findfs LABEL=CONFIG-2 2>/dev/null) || return 0
    mkdir -p /mnt/config
    mount -o ro "$dev" /mnt/config 2>/dev/null || return 0
}

# The top-level string value of key $1 in the JSON object of file $2; with
# $3 = 1, the string values of the object under that key (public_keys), one
# a line. Only the top level counts: a user's metadata ("meta") holding a
# "uuid" or "hostname" key is never taken for the instance's.
json_get() {
    awk -v want="$1" -v inner="${3:-0}" '
    function str(   c, out) {
        out = ""
        for (i++; i <= n; i++) {
            c = substr(s, i, 1)
            if (c == "\\") {
                i++; c = substr(s, i, 1)
                if (c == "n") c = "\n"; else if (c == "t") c = "\t"; else if (c == "r") c = "\r"
                else if (c == "u") c = "\\u"
            } else if (c == "\"") { i++; return out }
            out = out c
        }
        return out
    }
    { s = s $0 "\n" }
    END {
        n = length(s); i = 1; d = 0; val = 0
        while (i <= n) {
            c = substr(s, i, 1)
            if (c == "\"") {
                v = str()
                if (kind[d] == "{" && !val) { key[d] = v; continue }
                if (d == 1 && !inner && key[1] == want) print v
                if (d == 2 && inner && key[1] == want && kind[2] == "{") print v
                continue
            }
            if (c == "{" || c == "[") { d++; kind[d] = c; key[d] = ""; val = 0 }
            else if (c == "}" || c == "]") { d--; val = 1 }
            else if (c == ":") val = 1
            else if (c == ",") val = 0
            i++
        }
    }' "$2"
}

# meta_data.json (config drive, else the metadata service's): its "uuid" and
# "hostname" are top-level strings.
MD=
meta() {
    [ -n "$MD" ] && [ -f "$MD" ] || return 0
    json_get "$1" "$MD" | head -n 1
}

# network_data.json -> one "mac address netmask gateway" line per network:
# links give each link id its MAC; each network names its link, and its
# default route (the object after it) its gateway.
net_lines() {
    awk '
    function val(p, k,   v) {
        if (!match(p, "\"" k "\": *\"[^\"]*\"")) return ""
        v = substr(p, RSTART, RLENGTH); sub(/^"[^"]*": *"/, "", v); sub(/"$/, "", v)
        return v
    }
    { s = s $0 }
    END {
        n = split(s, part, /[{}]/)
        for (i = 1; i <= n; i++) {
            p = part[i]
            if (p ~ /"ethernet_mac_address"/) mac[val(p, "id")] = val(p, "ethernet_mac_address")
            else if (p ~ /"ip_address"/) {
                if (out != "") print out
                out = mac[val(p, "link")] " " val(p, "ip_address") " " val(p, "netmask")
                gw = 0
            } else if (p ~ /"gateway"/ && out != "" && !gw) { out = out " " val(p, "gateway"); gw = 1 }
        }
        if (out != "") print out
    }' "$CD/network_data.json"
}

# NICs configured from network_data.json, one a line (DHCP leaves them alone).
STATIC=/run/tiny/static-nics
configure_network() {
    ifconfig lo 127.0.0.1 up
    [ -f "$CD/network_data.json" ] || return 0
    net_lines | while read -r mac ip mask gw; do
        case "$ip$mask$gw" in *[!0-9.]*|'') echo "tiny: bad network entry"; continue ;; esac
        for dev in /sys/class/net/*; do
            [ "$(cat "$dev/address" 2>/dev/null)" = "$mac" ] || continue
            ifc=${dev##*/}
            ifconfig "$ifc" "$ip" netmask "$mask" up
            [ -n "$gw" ] && route add default gw "$gw" dev "$ifc"
            # Unsolicited ARP: a neighbour (the host) that tried us before we
            # were up holds a failed entry and would wait out its retry timer.
            arping -q -U -c 2 -w 2 -I "$ifc" "$ip" </dev/null >/dev/null 2>&1 &
            echo "$ifc" >> "$STATIC"
            echo "tiny: $ifc ($mac) $ip/$mask gateway ${gw:-none}"
        done
    done
}

# DHCP on every Ethernet NIC network_data.json did not name, all at once:
# 3 discovers 1 s apart, then give up (-n); with a lease udhcpc stays in the
# background and renews it. /etc/udhcpc.script applies the lease.
dhcp_network() {
    started= pids=
    for dev in /sys/class/net/*; do
        ifc=${dev##*/}
        [ "$(cat "$dev/type" 2>/dev/null)" = 1 ] || continue
        grep -qx "$ifc" "$STATIC" 2>/dev/null && continue
        udhcpc -i "$ifc" -s /etc/udhcpc.script -p "/run/tiny/udhcpc.$ifc.pid" \
            -O mtu -O staticroutes -t 3 -T 1 -n </dev/null >/dev/null 2>&1 &
        started="$started $ifc" pids="$pids $!"
    done
    [ -n "$started" ] || return 0
    # (udhcpc forks into the background once it has a lease: its first
    # process ends either way)
    wait $pids
    for ifc in $started; do
        [ -f "/run/tiny/lease.$ifc" ] || echo "tiny: $ifc: no DHCP lease"
    done
}

# cloud-init's OpenStack datasource, cut down: meta_data.json from the
# metadata service, asked only when a lease routes 169.254.169.254 or SMBIOS
# says this is OpenStack.
MD_URL=http://169.254.169.254/openstack/latest/meta_data.json
fetch_metadata() {
    product=$(cat /sys/class/dmi/id/product_name 2>/dev/null)
    case "$product" in "OpenStack Nova"|"OpenStack Compute") ;;
        *) [ -f /run/tiny/metadata-route ] || return 1 ;; esac
    ls /run/tiny/lease.* >/dev/null 2>&1 || return 1
    for try in 1 2 3; do
        [ "$try" = 1 ] || sleep 1
        if timeout 3 wget -q -O /run/tiny/meta_data.json "$MD_URL" </dev/null >/dev/null 2>&1 \
                && [ -n "$(json_get uuid /run/tiny/meta_data.json)" ]; then
            echo "tiny: meta_data.json from the metadata service (try $try)"
            return 0
        fi
        rm -f /run/tiny/meta_data.json
    done
    echo "tiny: no answer from the metadata service"
    return 1
}

mkdir -p /run/tiny
mount_config_drive
configure_network
dhcp_network
source=none
if [ -f "$CD/meta_data.json" ]; then
    MD=$CD/meta_data.json source=config-drive
elif fetch_metadata; then
    MD=/run/tiny/meta_data.json source=metadata
fi

uuid=$(meta uuid)
case "$uuid" in *[!0-9A-Za-z-]*) uuid= ;; esac
name=$(cmdline_hostname)
[ -n "$name" ] || name=$(meta hostname)
valid_hostname "$name" || name=@DEFAULT@
hostname "$name"
echo "$name" > /etc/hostname
if [ -n "$MD" ]; then
    keys=$(json_get public_keys "$MD" 1 | grep -E '^(ssh|ecdsa)-[^[:cntrl:]]*$')
    if [ -n "$keys" ]; then
        mkdir -p /root/.ssh
        echo "$keys" > /root/.ssh/authorized_keys
        chmod 600 /root/.ssh/authorized_keys
        echo "tiny: $(echo "$keys" | wc -l) public key(s) in /root/.ssh/authorized_keys"
    fi
fi

# GET / answers who this guest is (busybox httpd serves index.html).
mkdir -p /var/www
printf 'uuid=%s\nhostname=%s\nsource=%s\n' "$uuid" "$name" "$source" > /var/www/index.html
httpd -p 80 -h /var/www

# ACPI power button -> /etc/acpi/PWRF/00000080. An event sent before acpid
# has opened the input devices would be lost, so wait for that (max 1 s)
# before saying we are up.
acpid -c /etc/acpi -l /dev/null -p /run/acpid.pid
if [ -e /dev/input/event0 ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        ls -l "/proc/$(cat /run/acpid.pid 2>/dev/null)/fd" 2>/dev/null | grep -q /dev/input/ && break
        usleep 50000
    done
fi

if [ -x /usr/sbin/qemu-ga ]; then
    for f in /sys/class/virtio-ports/*/name; do
        [ "$(cat "$f" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
        port=${f%/name}
        qemu-ga -d -m virtio-serial -p "/dev/${port##*/}" -t /run -f /run/qemu-ga.pid
    done
fi

echo "tiny: ready at uptime $(cut -d' ' -f1 /proc/uptime) s"
echo "@MARKER@ hostname=$name"
exec /sbin/init
"""

# busybox udhcpc runs this at each DHCP event ($1) with the lease in its
# environment: address, MTU (option 26), routes, DNS. Option 121 (classless
# static routes: Neutron's 169.254.169.254/32 and default route), when given,
# replaces the router option (RFC 3442); a 0.0.0.0 hop is a route on the link.
UDHCPC_SCRIPT = r"""#!/bin/sh
set -f
case "$1" in
deconfig)
    ifconfig "$interface" 0.0.0.0 up
    rm -f "/run/tiny/lease.$interface"
    ;;
bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            case "$1" in 169.254.169.254/32) : > /run/tiny/metadata-route ;; esac
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    else
        for r in $router; do
            ip route replace default via "$r" dev "$interface"
            break
        done
    fi
    if [ -n "$dns" ]; then
        : > /etc/resolv.conf
        [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
        for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    fi
    echo "$ip" > "/run/tiny/lease.$interface"
    echo "tiny: $interface dhcp $ip/${mask:-?} mtu ${mtu:-none} router ${router:-none}" \
         "routes ${staticroutes:-none} dns ${dns:-none}" > /dev/console
    ;;
esac
exit 0
"""

INITTAB = """\
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/poweroff
::shutdown:/bin/sync
"""

POWER_BUTTON = """\
#!/bin/sh
# ACPI power button: nothing is mounted read-write, so flush and power off.
sync
poweroff -f
"""

SHUTDOWN = """\
#!/bin/sh
# qemu-ga runs "shutdown -h -P|-H|-r +0 MESSAGE"; busybox has no shutdown.
action=poweroff
for arg in "$@"; do
    case "$arg" in -r) action=reboot ;; -H) action=halt ;; esac
done
sync
exec "$action" -f
"""

ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/inittab": INITTAB,
    "etc/profile": "export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nPS1='\\h:\\w# '\n",
}


class InitramfsError(tinyguest.TinyGuestError):
    pass


@dataclass
class Contents:
    modules: list[str] = field(default_factory=list)
    libraries: list[str] = field(default_factory=list)
    agent: bool = False


def init_script() -> str:
    return (INIT.replace("@PARAM@", tinyguest.HOSTNAME_PARAM)
            .replace("@DEFAULT@", tinyguest.DEFAULT_HOSTNAME)
            .replace("@MARKER@", tinyguest.MARKER))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def add_busybox(arc: cpio.Archive, root: str) -> None:
    busybox = os.path.join(root, "bin/busybox")
    arc.add_file("bin/busybox", _read(busybox), 0o755)
    # NOTE: busybox-static runs on the build host (amd64) and lists its own
    # applets, so the links match the binary exactly.
    res = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise InitramfsError(f"{busybox} --list-full failed ({res.returncode}): {res.stderr}")
    for applet in res.stdout.split():
        if applet != "linuxrc" and applet != "bin/busybox":
            arc.add_symlink(applet, "/bin/busybox")


def add_modules(arc: cpio.Archive, kernel_root: str) -> list[str]:
    moddirs = sorted(os.listdir(os.path.join(kernel_root, "lib/modules")))
    if len(moddirs) != 1:
        raise InitramfsError(f"expected one kernel in {kernel_root}/lib/modules, "
                             f"found {moddirs}")
    order = modules.resolve(os.path.join(kernel_root, "lib/modules", moddirs[0]))
    lines = []
    for name, path in order:
        arc.add_file(f"lib/modules/{name}.ko", _read(path))
        params = modules.PARAMS.get(name)
        lines.append(f"{name} {params}" if params else name)
    arc.add_file("lib/modules/load-order", ("\n".join(lines) + "\n").encode())
    return [name for name, _ in order]


def _find_lib(roots: Sequence[str], soname: str) -> tuple[str, str]:
    for root in roots:
        for d in LIB_DIRS:
            path = os.path.join(root, d, soname)
            if os.path.exists(path):
                return f"{d}/{soname}", os.path.realpath(path)
    raise InitramfsError(f"library {soname} is in none of the unpacked packages "
                         f"({', '.join(roots)})")


def add_agent(arc: cpio.Archive, agent_root: str, lib_roots: Sequence[str]) -> list[str]:
    """qemu-ga and, transitively, every library it needs (by DT_NEEDED)."""
    binary = os.path.join(agent_root, AGENT)
    arc.add_file(AGENT, _read(binary), 0o755)
    pending, seen = list(elf.needed(_read(binary), binary)), set()
    while pending:
        soname = pending.pop(0)
        if soname in seen:
            continue
        seen.add(soname)
        dest, real = _find_lib(lib_roots, soname)
        data = _read(real)
        arc.add_file(dest, data, 0o755)
        if soname == os.path.basename(INTERP):
            arc.add_file(INTERP, data, 0o755)
        pending.extend(elf.needed(data, real))
    return sorted(seen)


def build(out_path: str, busybox_root: str, kernel_root: str, mtime: int,
          agent_root: str | None = None, lib_roots: Sequence[str] = ()) -> Contents:
    arc = cpio.Archive()
    for d in ("proc", "sys", "dev", "run", "tmp", "mnt", "root", "var/log", "var/www",
              "etc/acpi/PWRF"):
        arc.add_dir(d)
    arc.add_dir("tmp", 0o1777)
    arc.add_symlink("var/run", "/run")
    # The kernel opens /dev/console for init before devtmpfs is mounted.
    arc.add_chardev("dev/console", 5, 1)
    add_busybox(arc, busybox_root)
    contents = Contents(modules=add_modules(arc, kernel_root))
    if agent_root:
        contents.libraries = add_agent(arc, agent_root, lib_roots)
        contents.agent = True
    arc.add_file("init", init_script().encode(), 0o755)
    arc.add_file("sbin/shutdown", SHUTDOWN.encode(), 0o755)
    arc.add_file("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    arc.add_file("etc/acpi/PWRF/00000080", POWER_BUTTON.encode(), 0o755)
    for path, text in ETC.items():
        arc.add_file(path, text.encode())
    with open(out_path, "wb") as out:
        if COMPRESS:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0,
                               compresslevel=6) as gz:
                arc.write(gz, mtime)  # type: ignore[arg-type]
        else:
            arc.write(out, mtime)
    return contents
