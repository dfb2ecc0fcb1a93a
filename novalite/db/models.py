"""SQLAlchemy models. Rows are soft-deleted (``deleted`` = row id) like Nova's,
so a unique constraint can include ``deleted`` and a name can be reused."""

from __future__ import annotations

import datetime
from typing import Any

from oslo_utils import timeutils
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import true as sa_true
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# NOTE: a datetime with microseconds on every backend (MariaDB's DATETIME
# keeps whole seconds unless asked), where the order of events within one
# second matters (a token issued just before or just after a revocation).
MicroDateTime = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _now() -> datetime.datetime:
    return timeutils.utcnow()


class Base(DeclarativeBase):
    created_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, onupdate=_now)

    def as_dict(self) -> dict[str, Any]:
        return {a.key: getattr(self, a.key) for a in sa_inspect(self).mapper.column_attrs}


class SoftDeleteMixin:
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    deleted: Mapped[int] = mapped_column(Integer, default=0)


class Service(SoftDeleteMixin, Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary", "deleted", name="uniq_services0host0binary0deleted"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str | None] = mapped_column(String(255))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_up: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    rpc_version: Mapped[str | None] = mapped_column(String(16))
    availability_zone: Mapped[str | None] = mapped_column(String(255))


class ComputeNode(SoftDeleteMixin, Base):
    __tablename__ = "compute_nodes"
    __table_args__ = (UniqueConstraint("host", "hypervisor_hostname", "deleted",
                                       name="uniq_compute_nodes0host0hypervisor_hostname0deleted"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    hypervisor_hostname: Mapped[str] = mapped_column(String(255))
    hypervisor_type: Mapped[str] = mapped_column(String(255))
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=0)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Float, default=16.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    host_ip: Mapped[str | None] = mapped_column(String(64))
    hypervisor_description: Mapped[str | None] = mapped_column(String(255))


class Flavor(Base):
    __tablename__ = "flavors"
    __table_args__ = (UniqueConstraint("flavorid", name="uniq_flavors0flavorid"),
                      UniqueConstraint("name", name="uniq_flavors0name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavorid: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    memory_mb: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    extra_specs: Mapped[dict | None] = mapped_column(JSON)


class Instance(SoftDeleteMixin, Base):
    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_instances0uuid"),
        Index("instances_project_id_deleted_idx", "project_id", "deleted"),
        Index("instances_host_deleted_idx", "host", "deleted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    display_name: Mapped[str | None] = mapped_column(String(255))
    hostname: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    image_ref: Mapped[str | None] = mapped_column(String(255))
    flavor: Mapped[dict | None] = mapped_column(JSON)
    vm_state: Mapped[str | None] = mapped_column(String(255))
    task_state: Mapped[str | None] = mapped_column(String(255))
    power_state: Mapped[int | None] = mapped_column(Integer)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    terminated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    launch_index: Mapped[int | None] = mapped_column(Integer)
    reservation_id: Mapped[str | None] = mapped_column(String(255))
    access_ip_v4: Mapped[str | None] = mapped_column(String(64))
    access_ip_v6: Mapped[str | None] = mapped_column(String(64))
    key_name: Mapped[str | None] = mapped_column(String(255))
    key_data: Mapped[str | None] = mapped_column(Text)
    user_data: Mapped[str | None] = mapped_column(
        Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"))
    auto_disk_config: Mapped[bool] = mapped_column(Boolean, default=False)
    config_drive: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # NOTE: who locked it: 'owner' (its project) or 'admin', as Nova's
    # instances.locked_by (migration 014).
    locked_by: Mapped[str | None] = mapped_column(String(5))
    display_description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSON)
    system_metadata: Mapped[dict | None] = mapped_column(JSON)
    build_attempts: Mapped[list | None] = mapped_column(JSON)
    # NOTE: a resize's flavors while it waits to be confirmed or reverted
    # (Nova keeps them in instance_extra.flavor's "old" and "new"; migration 013).
    old_flavor: Mapped[dict | None] = mapped_column(JSON)
    new_flavor: Mapped[dict | None] = mapped_column(JSON)


class InstanceFault(Base):
    __tablename__ = "instance_faults"
    __table_args__ = (Index("instance_faults_instance_uuid_idx", "instance_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(255))
    details: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))


class Image(SoftDeleteMixin, Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_images0uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default="queued")
    disk_format: Mapped[str | None] = mapped_column(String(32))
    container_format: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    visibility: Mapped[str] = mapped_column(String(32), default="public")
    owner: Mapped[str | None] = mapped_column(String(255))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    properties: Mapped[dict | None] = mapped_column(JSON)
    location: Mapped[str | None] = mapped_column(Text)


class ImageMember(Base):
    """A project a shared image is offered to, and its answer (Glance's
    image members: pending, accepted, rejected); migration 015. Rows go
    when the membership or the image is deleted."""

    __tablename__ = "image_members"
    __table_args__ = (
        UniqueConstraint("image_id", "member", name="uniq_image_members0image_id0member"),
        Index("image_members_member_idx", "member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36))
    member: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="pending")


class MetadefNamespace(Base):
    """A metadata definitions namespace (Glance's catalog of the properties
    images, flavors, volumes... may carry); migration 016. Its resource type
    associations, properties, objects and tags are small JSON documents of
    the row, changed under the row's lock."""

    __tablename__ = "metadef_namespaces"
    __table_args__ = (UniqueConstraint("namespace", name="uniq_metadef_namespaces0namespace"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(80))
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), default="private")
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255))
    resource_types: Mapped[list | None] = mapped_column(JSON)
    properties: Mapped[dict | None] = mapped_column(JSON)
    objects: Mapped[list | None] = mapped_column(JSON)
    tags: Mapped[list | None] = mapped_column(JSON)


# --- identity (migration 003) ---------------------------------------------

class Project(Base):
    """A Keystone project (tenant); every project is in domain ``default``."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uniq_projects0domain_id0name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(String(64), default="default")
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    """A user with a bcrypt password hash. Tokens issued at or before
    ``tokens_revoked_before`` are revoked (set when the password changes, as
    Keystone's revocation event by user id and issued_before)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uniq_users0domain_id0name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(64), default="default")
    password_hash: Mapped[str | None] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    tokens_revoked_before: Mapped[datetime.datetime | None] = mapped_column(MicroDateTime)


class AuthFailure(Base):
    """Failed password authentications of a user from one source (an IPv4
    address or IPv6 /64): the lockout is per user and source (migration 006)."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("auth_failures_last_failure_at_idx", "last_failure_at"),)

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class RoleAssignment(Base):
    """A role (``admin``, ``member``, ``reader``) of a user on a project."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "project_id", "role",
                         name="uniq_role_assignments0user_id0project_id0role"),
        Index("role_assignments_project_id_idx", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))


class RevokedToken(Base):
    """A revoked token's audit id, kept until the token would have expired."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("revoked_tokens_expires_at_idx", "expires_at"),)

    audit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime)



# --- compute API: key pairs, quotas (migration 004) -------------------------

class KeyPair(SoftDeleteMixin, Base):
    """An SSH public key a user imports or has generated, per user by name."""

    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("user_id", "name", "deleted",
                                       name="uniq_key_pairs0user_id0name0deleted"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="ssh")


class Quota(Base):
    """A project's own limit for one resource (absent: the configured default)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource",
                                       name="uniq_quotas0project_id0resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClass(Base):
    """A quota class's limit for one resource (Nova's quota_classes); the
    ``default`` class's are every project's defaults."""

    __tablename__ = "quota_classes"
    __table_args__ = (UniqueConstraint("class_name", "resource",
                                       name="uniq_quota_classes0class_name0resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_name: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class FlavorProject(Base):
    """A project that may use a private flavor (Nova's flavor access list)."""

    __tablename__ = "flavor_projects"
    __table_args__ = (UniqueConstraint("flavor_id", "project_id",
                                       name="uniq_flavor_projects0flavor_id0project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavor_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[str] = mapped_column(String(255))


# --- networks, fixed IPs, instance actions (migration 005) ------------------


class Network(SoftDeleteMixin, Base):
    """A Neutron network: a VXLAN segment (``segmentation_id``, the VNI)
    with a Linux bridge per host that has a port on it."""

    __tablename__ = "networks"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_networks0uuid"),
        UniqueConstraint("bridge", "deleted", name="uniq_networks0bridge0deleted"),
        UniqueConstraint("segmentation_id", "deleted",
                         name="uniq_networks0segmentation_id0deleted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255))
    bridge: Mapped[str] = mapped_column(String(15))
    project_id: Mapped[str | None] = mapped_column(String(255))
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    router_external: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=sa_false())
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True,
                                                 server_default=sa_true())
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE", server_default="ACTIVE")
    mtu: Mapped[int] = mapped_column(Integer, default=1450, server_default="1450")
    description: Mapped[str] = mapped_column(String(255), default="", server_default="")
    segmentation_id: Mapped[int | None] = mapped_column(Integer)


class Subnet(Base):
    __tablename__ = "subnets"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_subnets0uuid"),
        Index("subnets_network_id_idx", "network_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    network_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("networks.id", name="fk_subnets0network_id"))
    project_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list | None] = mapped_column(JSON)
    dns_nameservers: Mapped[list | None] = mapped_column(JSON)
    host_routes: Mapped[list | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(255), default="")


class Port(Base):
    """A Neutron port. A port exists with no device (made through the API,
    then given to a server) or bound to one (``device_id``/``device_owner``,
    ``binding_host`` = the host whose tap it is)."""

    __tablename__ = "ports"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_ports0uuid"),
        UniqueConstraint("mac", name="uniq_ports0mac"),
        Index("ports_network_id_idx", "network_id"),
        Index("ports_device_id_idx", "device_id"),
        Index("ports_binding_host_idx", "binding_host"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    network_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("networks.id", name="fk_ports0network_id"))
    project_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    mac: Mapped[str] = mapped_column(String(17))
    device_id: Mapped[str] = mapped_column(String(255), default="")
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    binding_host: Mapped[str | None] = mapped_column(String(255))
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    allowed_address_pairs: Mapped[list | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(255), default="")
    # NOTE: Nova's preserve_on_delete: a port the user made is unbound when
    # its server goes, a port Nova made for the server is deleted.
    preserve_on_delete: Mapped[bool] = mapped_column(Boolean, default=False)


class IPAllocation(Base):
    """An address of a port: UNIQUE(network, address) makes the database the
    arbiter, so two builds racing for one address (on any host) never both win."""

    __tablename__ = "ip_allocations"
    __table_args__ = (
        UniqueConstraint("network_id", "address",
                         name="uniq_ip_allocations0network_id0address"),
        Index("ip_allocations_port_id_idx", "port_id"),
        Index("ip_allocations_subnet_id_idx", "subnet_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    port_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ports.id", name="fk_ip_allocations0port_id", ondelete="CASCADE"))
    subnet_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("subnets.id", name="fk_ip_allocations0subnet_id"))
    network_id: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(64))


class InstanceAction(Base):
    __tablename__ = "instance_actions"
    __table_args__ = (
        Index("instance_actions_instance_uuid_idx", "instance_uuid"),
        Index("instance_actions_request_id_idx", "request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(255))
    instance_uuid: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    message: Mapped[str | None] = mapped_column(String(255))


class InstanceActionEvent(Base):
    __tablename__ = "instance_actions_events"
    __table_args__ = (Index("instance_actions_events_action_id_idx", "action_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(255))
    traceback: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[str | None] = mapped_column(Text)


class RequestSpec(Base):
    """One instance's RequestSpec object (its primitive, JSON), as Nova's
    API database's ``request_specs``."""

    __tablename__ = "request_specs"
    __table_args__ = (UniqueConstraint("instance_uuid", name="uniq_request_specs0instance_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    spec: Mapped[str] = mapped_column(
        Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"))


class InstanceInfoCache(Base):
    """An instance's network_info (Nova's VIF list, JSON) as its last
    allocation made it, as Nova's ``instance_info_caches``."""

    __tablename__ = "instance_info_caches"
    __table_args__ = (UniqueConstraint("instance_uuid",
                                       name="uniq_instance_info_caches0instance_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    network_info: Mapped[str | None] = mapped_column(
        Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"))


class BlockDeviceMapping(Base):
    """One block device of an instance (Nova's ``block_device_mapping``): the
    image-backed local root disk, or a volume (root or data) with its
    Cinder-style attachment and the connection_info the host attached."""

    __tablename__ = "block_device_mapping"
    __table_args__ = (Index("block_device_mapping_instance_uuid_idx", "instance_uuid"),
                      Index("block_device_mapping_volume_id_idx", "volume_id"),
                      UniqueConstraint("uuid", name="uniq_block_device_mapping0uuid"),
                      # NOTE: two attaches racing for the same device name: one
                      # row wins, the other takes the next name.
                      UniqueConstraint("instance_uuid", "device_name",
                                       name="uniq_block_device_mapping0instance0device"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    source_type: Mapped[str] = mapped_column(String(255))
    destination_type: Mapped[str] = mapped_column(String(255))
    boot_index: Mapped[int | None] = mapped_column(Integer)
    device_name: Mapped[str | None] = mapped_column(String(255))
    device_type: Mapped[str | None] = mapped_column(String(255))
    disk_bus: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(36))
    volume_id: Mapped[str | None] = mapped_column(String(36))
    volume_size: Mapped[int | None] = mapped_column(Integer)
    guest_format: Mapped[str | None] = mapped_column(String(255))
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    # NOTE: migration 021 (issue 14): 2.89's bdm_uuid, 2.49's tag, the
    # volume's attachment, what attachment_update answered (JSON), 2.67's
    # volume_type and a snapshot source.
    uuid: Mapped[str | None] = mapped_column(String(36))
    tag: Mapped[str | None] = mapped_column(String(255))
    attachment_id: Mapped[str | None] = mapped_column(String(36))
    connection_info: Mapped[str | None] = mapped_column(Text)
    volume_type: Mapped[str | None] = mapped_column(String(255))
    snapshot_id: Mapped[str | None] = mapped_column(String(36))


class InstanceGroup(Base):
    """A server group (Nova's API database ``instance_groups``): one policy,
    its rules, and the servers that are its members."""

    __tablename__ = "instance_groups"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_instance_groups0uuid"),
                      Index("instance_groups_project_id_idx", "project_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(255))
    rules: Mapped[dict | None] = mapped_column(JSON)


class InstanceGroupMember(Base):
    __tablename__ = "instance_group_member"
    __table_args__ = (
        UniqueConstraint("group_id", "instance_uuid",
                         name="uniq_instance_group_member0group_id0instance_uuid"),
        Index("instance_group_member_instance_uuid_idx", "instance_uuid"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer)
    instance_uuid: Mapped[str] = mapped_column(String(36))


class Aggregate(Base):
    """A host aggregate (Nova's API database ``aggregates``): named hosts
    with metadata; ``availability_zone`` metadata makes it a zone."""

    __tablename__ = "aggregates"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_aggregates0uuid"),
                      UniqueConstraint("name", name="uniq_aggregates0name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255))


class AggregateHost(Base):
    __tablename__ = "aggregate_hosts"
    __table_args__ = (UniqueConstraint("host", "aggregate_id",
                                       name="uniq_aggregate_hosts0host0aggregate_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aggregate_id: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))


class AggregateMetadata(Base):
    __tablename__ = "aggregate_metadata"
    __table_args__ = (UniqueConstraint("aggregate_id", "key",
                                       name="uniq_aggregate_metadata0aggregate_id0key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aggregate_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class Tag(Base):
    """A server tag (Nova's ``tags``: microversion 2.26; migration 012)."""

    __tablename__ = "tags"
    __table_args__ = (Index("tags_tag_idx", "tag"),)

    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(80), primary_key=True)


class Migration(SoftDeleteMixin, Base):
    """A move of an instance (Nova's ``migrations``: resize, cold and live
    migration, evacuation; migration 013)."""

    __tablename__ = "migrations"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_migrations0uuid"),
        Index("migrations_instance_uuid_and_status_idx", "deleted", "instance_uuid", "status"),
        Index("migrations_by_host_nodes_and_status_idx", "deleted", "source_compute",
              "dest_compute", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    instance_uuid: Mapped[str] = mapped_column(String(36))
    source_compute: Mapped[str | None] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255))
    source_node: Mapped[str | None] = mapped_column(String(255))
    dest_node: Mapped[str | None] = mapped_column(String(255))
    dest_host: Mapped[str | None] = mapped_column(String(255))
    old_instance_type_id: Mapped[int | None] = mapped_column(Integer)
    new_instance_type_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(255))
    migration_type: Mapped[str | None] = mapped_column(String(255))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))


class ConsoleAuthToken(Base):
    """A remote console's one-time token (Nova's ``console_auth_tokens``;
    migration 014): only its SHA-256 is kept, bound to the instance and
    the address of its console on its host, until ``expires`` (epoch s)."""

    __tablename__ = "console_auth_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uniq_console_auth_tokens0token_hash"),
        Index("console_auth_tokens_instance_uuid_idx", "instance_uuid"),
        Index("console_auth_tokens_token_hash_instance_uuid_idx", "token_hash",
              "instance_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(255))
    console_type: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    expires: Mapped[int] = mapped_column(Integer)


# --- security groups, routers, floating IPs (migration 019) -----------------


class SecurityGroup(Base):
    """A Neutron security group of a project."""

    __tablename__ = "security_groups"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_security_groups0uuid"),
                      Index("security_groups_project_id_idx", "project_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")


class DefaultSecurityGroup(Base):
    """A project's ``default`` group (Neutron's default_security_group):
    the primary key on the project makes the first use race-free."""

    __tablename__ = "default_security_groups"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("security_groups.id", name="fk_default_security_groups0sg_id",
                            ondelete="CASCADE"))


class SecurityGroupRule(Base):
    __tablename__ = "security_group_rules"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_security_group_rules0uuid"),
                      Index("security_group_rules_sg_id_idx", "security_group_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(255))
    security_group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("security_groups.id", name="fk_security_group_rules0sg_id",
                            ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(16), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255))
    # NOTE: the remote group's uuid (a group referring to itself, or another).
    remote_group_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(255), default="")


class SecurityGroupPortBinding(Base):
    """A port's membership of a group."""

    __tablename__ = "security_group_port_bindings"
    __table_args__ = (Index("security_group_port_bindings_sg_id_idx", "security_group_id"),)

    port_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ports.id", name="fk_sg_port_bindings0port_id", ondelete="CASCADE"),
        primary_key=True)
    security_group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("security_groups.id", name="fk_sg_port_bindings0sg_id"),
        primary_key=True)


class Router(Base):
    """A Neutron router: its interfaces are ports (device_id = the router,
    device_owner network:router_interface), its gateway the port
    ``gw_port_id`` on an external network (network:router_gateway)."""

    __tablename__ = "routers"
    __table_args__ = (UniqueConstraint("uuid", name="uniq_routers0uuid"),
                      Index("routers_project_id_idx", "project_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    gw_port_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ports.id", name="fk_routers0gw_port_id"))
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    routes: Mapped[list | None] = mapped_column(JSON)


class FloatingIP(Base):
    """A floating IP: its address is held by a port on the external network
    (device_owner network:floatingip); associated, it is NATed to
    ``fixed_ip_address`` of ``fixed_port_id`` through ``router_id``."""

    __tablename__ = "floating_ips"
    __table_args__ = (
        UniqueConstraint("uuid", name="uniq_floating_ips0uuid"),
        UniqueConstraint("floating_network_id", "floating_ip_address",
                         name="uniq_floating_ips0floating_network_id0address"),
        Index("floating_ips_fixed_port_id_idx", "fixed_port_id"),
        Index("floating_ips_router_id_idx", "router_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str | None] = mapped_column(String(255))
    floating_network_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("networks.id", name="fk_floating_ips0network_id"))
    floating_port_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("ports.id", name="fk_floating_ips0floating_port_id"))
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    fixed_port_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ports.id", name="fk_floating_ips0fixed_port_id"))
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64))
    router_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("routers.id", name="fk_floating_ips0router_id"))
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    description: Mapped[str] = mapped_column(String(255), default="")

