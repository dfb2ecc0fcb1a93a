"""Exceptions that carry an HTTP code and a message a user can read.

Every exception names what failed, the object and the value. ``code`` is
what the API answers with; ``msg_fmt`` is filled from keyword arguments.
"""

from __future__ import annotations

from typing import Any


class NovaliteException(Exception):
    msg_fmt = "An unknown error occurred."
    code = 500
    # NOTE: retryable build failures make the conductor try another host.
    retryable = False

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def format_message(self) -> str:
        return self.message


class Invalid(NovaliteException):
    msg_fmt = "Invalid input: %(reason)s"
    code = 400


class ValidationError(Invalid):
    msg_fmt = "Invalid input for field/attribute %(field)s. %(reason)s"


class Forbidden(NovaliteException):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."
    code = 403


class PolicyNotAuthorized(Forbidden):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class NotFound(NovaliteException):
    msg_fmt = "Resource could not be found."
    code = 404


class Conflict(NovaliteException):
    msg_fmt = "Conflict: %(reason)s"
    code = 409


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class RequestSpecNotFound(NotFound):
    msg_fmt = "RequestSpec not found for instance %(instance_uuid)s."


class FlavorNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s could not be found."


class ImageNotFound(NotFound):
    msg_fmt = "Image %(image_id)s could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


class HostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class ComputeNodeNotFound(NotFound):
    msg_fmt = "Compute node for host %(host)s could not be found."


class InstanceInvalidState(Conflict):
    msg_fmt = ("Cannot '%(action)s' instance %(instance_uuid)s while it is in "
               "%(attr)s %(state)s")


class PreserveEphemeralNotSupported(Invalid):
    msg_fmt = "The current driver does not support preserving ephemeral partitions."


class InstanceIsLocked(Conflict):
    msg_fmt = "Instance %(instance_uuid)s is locked"


class UnexpectedDeletingTaskState(Conflict):
    msg_fmt = "Instance %(instance_uuid)s is being deleted"


class InstanceDeleted(NovaliteException):
    """The instance was deleted while an operation on it was running."""

    msg_fmt = "Instance %(instance_uuid)s was deleted during %(action)s"
    code = 409


class ObjectActionError(NovaliteException):
    msg_fmt = "Object action %(action)s failed because: %(reason)s"


class NoValidHost(NovaliteException):
    msg_fmt = "No valid host was found. %(reason)s"


class MaxRetriesExceeded(NoValidHost):
    msg_fmt = "Exceeded maximum number of retries. %(reason)s"


class BuildAbortException(NovaliteException):
    msg_fmt = "Build of instance %(instance_uuid)s aborted: %(reason)s"


class RescheduledException(NovaliteException):
    msg_fmt = "Build of instance %(instance_uuid)s was re-scheduled: %(reason)s"
    retryable = True


class InstanceSpawnError(NovaliteException):
    msg_fmt = "Spawning instance %(instance_uuid)s failed: %(reason)s"


class ComputeResourcesUnavailable(NovaliteException):
    msg_fmt = "Insufficient compute resources: %(reason)s"
    retryable = True


class HypervisorUnavailable(NovaliteException):
    msg_fmt = "Connection to the hypervisor is broken on host %(host)s"
    retryable = True


class VirtDriverNotFound(NovaliteException):
    msg_fmt = "Compute driver %(name)s is not available (namespace novalite.virt)"


class DBNotAllowed(NovaliteException):
    msg_fmt = "%(binary)s attempted direct database access which is not allowed by policy"


class InvalidDatabaseURL(Invalid):
    msg_fmt = "[database] connection is not usable: %(reason)s"


# --- networks, fixed IPs, instance actions (issue 5) -------------------------

class NetworkNotFound(NotFound):
    msg_fmt = "Network %(network_id)s could not be found."


class NetworkExists(Conflict):
    msg_fmt = "A network named %(name)s or on bridge %(bridge)s already exists."


class InvalidNetwork(Invalid):
    msg_fmt = "Invalid network: %(reason)s"


class NoMoreFixedIps(NovaliteException):
    msg_fmt = "No fixed IP addresses available for network %(net)s."
    code = 409


class FixedIpAlreadyInUse(Conflict):
    msg_fmt = "Fixed IP address %(address)s is already in use on network %(net)s."


class NetworkSetupError(NovaliteException):
    msg_fmt = "Could not set up the network on this host: %(reason)s"
    # NOTE: a host that cannot make its bridge leaves the build to another.
    retryable = True


class InterfaceAttachFailed(NovaliteException):
    msg_fmt = "Failed to attach network adapter device to %(instance_uuid)s: %(reason)s"


class InterfaceDetachFailed(NovaliteException):
    msg_fmt = "Failed to detach network adapter device from %(instance_uuid)s: %(reason)s"


class InstanceActionNotFound(NotFound):
    msg_fmt = "Action for request_id %(request_id)s on instance %(instance_uuid)s not found"


# --- identity ---------------------------------------------------------------

class ProjectNotFound(NotFound):
    msg_fmt = "Could not find project: %(project)s."


class UserNotFound(NotFound):
    msg_fmt = "Could not find user: %(user)s."


class RoleNotFound(NotFound):
    msg_fmt = "Could not find role: %(role)s."


class DomainNotFound(NotFound):
    msg_fmt = "Could not find domain: %(domain)s."


class ProjectExists(Conflict):
    msg_fmt = "Project %(name)s already exists in domain %(domain_id)s."


class UserExists(Conflict):
    msg_fmt = "User %(name)s already exists in domain %(domain_id)s."


class InvalidPassword(Invalid):
    msg_fmt = "Invalid password: %(reason)s"


class Unauthorized(NovaliteException):
    """Authentication failed. One message for every cause (unknown user,
    wrong password, locked out, expired or revoked token), so a caller
    learns nothing about which part was wrong."""

    msg_fmt = "The request you have made requires authentication."
    code = 401


class TokenNotFound(NotFound):
    msg_fmt = "Could not find token: %(token)s."


# --- key pairs, quotas, flavors (compute API) --------------------------------

class KeypairNotFound(NotFound):
    msg_fmt = "Keypair %(name)s not found for user %(user_id)s"


class KeyPairExists(Conflict):
    msg_fmt = "Key pair '%(key_name)s' already exists."


class InvalidKeypair(Invalid):
    msg_fmt = "Keypair data is invalid: %(reason)s"


class QuotaError(NovaliteException):
    """Over a quota. NOTE: Nova's QuotaError is a 413, but every API that
    raises one (server create, key pair create, metadata) answers 403."""

    msg_fmt = "Quota exceeded: code=%(code)s"
    code = 403


class KeypairLimitExceeded(QuotaError):
    msg_fmt = "Maximum number of key pairs exceeded"


class TooManyInstances(QuotaError):
    msg_fmt = ("Quota exceeded for %(overs)s: Requested %(req)s, but already used "
               "%(used)s of %(allowed)s %(overs)s")


class MetadataLimitExceeded(QuotaError):
    msg_fmt = "Maximum number of metadata items exceeds %(allowed)d"


class OverQuota(QuotaError):
    msg_fmt = "Quota exceeded for resources: %(overs)s"


class QuotaResourceUnknown(Invalid):
    msg_fmt = "Unknown quota resources %(unknown)s."


class FlavorExtraSpecsNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s has no extra specs with key %(extra_specs_key)s."


class FlavorExists(Conflict):
    msg_fmt = "Flavor with name %(name)s already exists."


class FlavorIdExists(Conflict):
    msg_fmt = "Flavor with ID %(flavor_id)s already exists."


class BootFromVolumeRequiredForZeroDiskFlavor(Forbidden):
    """Nova's answer (403) when the ``create:zero_disk_flavor`` rule refuses
    an image-backed server on a flavor whose root disk is 0 GB."""

    msg_fmt = "Only volume-backed servers are allowed for flavors with zero disk."


class ZeroDiskImageSizeUnknown(Invalid):
    """A 0 GB root disk takes the image's virtual size; without one the
    host's disk cannot be claimed."""

    msg_fmt = ("Flavor %(flavor)s has a zero disk, so the root disk takes the virtual size "
               "of image %(image_id)s, which is not known (disk_format %(disk_format)s). "
               "Use a flavor with a root disk size.")


class ImageForbidden(Forbidden):
    msg_fmt = "%(reason)s"


class ImageProtected(Forbidden):
    msg_fmt = "Image %(image_id)s is protected and cannot be deleted."


class ImageStatusTransition(Conflict):
    msg_fmt = "Image status transition from %(current)s to %(new)s is not allowed"


class MarkerNotFound(NotFound):
    msg_fmt = "Marker %(marker)s could not be found."


class ImageSizeLimitExceeded(NovaliteException):
    msg_fmt = "The provided image is too large: it has more than %(cap)s bytes."
    code = 413


class FlavorAccessExists(Conflict):
    msg_fmt = ("Flavor access already exists for flavor %(flavor_id)s and project "
               "%(project_id)s combination.")


class FlavorAccessNotFound(NotFound):
    msg_fmt = "Flavor access not found for %(flavor_id)s / %(project_id)s combination."


class ImagePropertyLimitExceeded(NovaliteException):
    msg_fmt = ("The limit has been exceeded on the number of allowed image properties. "
               "Attempted: %(attempted)s, Maximum: %(maximum)s")
    code = 413


class ImageTagLimitExceeded(NovaliteException):
    msg_fmt = ("The limit has been exceeded on the number of allowed image tags. "
               "Attempted: %(attempted)s, Maximum: %(maximum)s")
    code = 413
