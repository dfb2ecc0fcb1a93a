"""[serial_console] options: remote serial consoles (Nova's names where
Nova has the option) and the websocket proxy novalite/console/serialproxy.py."""

from oslo_config import cfg

serial_console_group = cfg.OptGroup(
    "serial_console", title="Serial console options",
    help="Remote serial consoles: POST /servers/{id}/remote-consoles (protocol serial) "
         "gives a one-time websocket URL of the serial console proxy, which connects "
         "it to the guest's serial port. Guests need a serial port a proxy can reach "
         "([libvirt] serial_console).")

serial_console_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Give serial console URLs. Off: a request for one is 400 "
                     "'Unavailable console type serial.' (as Nova's). "
                     "novalite-all-in-one turns it on, with [libvirt] serial_console, "
                     "and runs the proxy in its process."),
    cfg.URIOpt("base_url", default="ws://127.0.0.1:6083/", schemes=["ws", "wss"],
               help="The proxy's URL as clients reach it; the token is added as "
                    "?token=... (as Nova's)."),
    cfg.HostAddressOpt("serialproxy_host", default="127.0.0.1",
                       help="Address the serial console proxy listens on."),
    cfg.PortOpt("serialproxy_port", default=6083,
                help="Port the serial console proxy listens on."),
    cfg.IntOpt("token_ttl", default=600, min=1,
               help="Seconds a console token stays valid (Nova's [consoleauth] "
                    "token_ttl). A token also serves once: the connection that "
                    "presents it uses it up."),
]


console_group = cfg.OptGroup("console", title="Console proxy options")

console_opts = [
    cfg.ListOpt("allowed_origins", default=[],
                help="Hostnames a browser's Origin header may name when it opens a "
                     "console websocket, besides [serial_console] base_url's host (as "
                     "Nova's). A request whose Origin names another host is refused "
                     "(403); a client that sends no Origin (not a browser) is not."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(serial_console_group)
    conf.register_opts(serial_console_opts, group=serial_console_group)
    conf.register_group(console_group)
    conf.register_opts(console_opts, group=console_group)


def list_opts() -> dict:
    return {serial_console_group: serial_console_opts, console_group: console_opts}
