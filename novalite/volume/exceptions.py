"""The volume service's errors, with Cinder's messages (clients and tempest
match on them) and the HTTP codes Cinder's API answers with."""

from __future__ import annotations

from novalite import exception


class VolumeNotFound(exception.NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."


class SnapshotNotFound(exception.NotFound):
    msg_fmt = "Snapshot %(snapshot_id)s could not be found."


class VolumeAttachmentNotFound(exception.NotFound):
    msg_fmt = "VolumeAttachment %(attachment_id)s could not be found."


class VolumeTypeNotFound(exception.NotFound):
    msg_fmt = "Volume type %(volume_type_id)s could not be found."


class InvalidInput(exception.Invalid):
    msg_fmt = "Invalid input received: %(reason)s"


class InvalidVolume(exception.Invalid):
    msg_fmt = "Invalid volume: %(reason)s"


class InvalidSnapshot(exception.Invalid):
    msg_fmt = "Invalid snapshot: %(reason)s"


class InvalidVolumeAttachMode(exception.Invalid):
    msg_fmt = ("Invalid attaching mode '%(mode)s' for volume %(volume_id)s.")


class ImageUnacceptable(exception.Invalid):
    msg_fmt = "Image %(image_id)s is unacceptable: %(reason)s"


class VolumeQuotaError(exception.NovaliteException):
    """Over a Block Storage quota: 413 with Cinder's class name in the text."""

    code = 413

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)
        if message is None:
            self.message = f"{type(self).__name__}: {self.message}"
            self.args = (self.message,)


class VolumeLimitExceeded(VolumeQuotaError):
    msg_fmt = "Maximum number of volumes allowed (%(allowed)d) exceeded for quota '%(name)s'."


class SnapshotLimitExceeded(VolumeQuotaError):
    msg_fmt = ("Maximum number of snapshots allowed (%(allowed)d) exceeded for quota "
               "'%(name)s'.")


class VolumeSizeExceedsAvailableQuota(VolumeQuotaError):
    msg_fmt = ("Requested volume or snapshot exceeds allowed %(name)s quota. Requested "
               "%(requested)sG, quota is %(quota)sG and %(consumed)sG has been consumed.")


class VolumeSizeExceedsLimit(VolumeQuotaError):
    msg_fmt = ("Requested volume size %(size)dG is larger than maximum allowed limit "
               "%(limit)dG.")


class VolumeBackendError(exception.NovaliteException):
    """The backend could not do what it was asked; the volume goes to an
    error state with this text as its reason."""

    msg_fmt = "Volume backend error: %(reason)s"


class NoValidVolumeHost(exception.NovaliteException):
    msg_fmt = "No valid backend was found. %(reason)s"
    code = 500
