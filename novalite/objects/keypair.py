"""KeyPair: a user's SSH public key, by name (soft-deleted like Nova's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from oslo_versionedobjects import fields

from novalite.db import keypairs as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class KeyPair(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "name": fields.StringField(),
        "user_id": fields.StringField(),
        "fingerprint": fields.StringField(),
        "public_key": fields.StringField(),
        "type": fields.StringField(default="ssh"),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
        "deleted_at": fields.DateTimeField(nullable=True),
        "deleted": fields.BooleanField(default=False),
    }

    @classmethod
    @base.remotable
    def get_by_name(cls, context: RequestContext, user_id: str, name: str) -> KeyPair:
        """The user's key pair ``name``; KeypairNotFound (404) when there is none."""
        return cast("KeyPair", cls._from_db_object(context, cls(), db.key_pair_get(user_id, name)))

    @classmethod
    @base.remotable
    def destroy_by_name(cls, context: RequestContext, user_id: str, name: str) -> None:
        db.key_pair_destroy(user_id, name)

    @base.remotable
    def create(self) -> None:
        """Record the key pair; KeyPairExists when the user has one by that name."""
        values = {n: getattr(self, n) for n in ("name", "user_id", "fingerprint",
                                                "public_key", "type")
                  if self.obj_attr_is_set(n)}
        self._from_db_object(self._context, self, db.key_pair_create(values))

    @base.remotable
    def destroy(self) -> None:
        db.key_pair_destroy(self.user_id, self.name)


@base.register
class KeyPairList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("KeyPair")}

    @classmethod
    @base.remotable
    def get_by_user(cls, context: RequestContext, user_id: str) -> KeyPairList:
        """The user's key pairs by name."""
        return cast("KeyPairList", base.obj_make_list(context, cls(), KeyPair, db.key_pair_get_all_by_user(user_id)))

    @classmethod
    @base.remotable
    def get_count_by_user(cls, context: RequestContext, user_id: str) -> int:
        return int(db.key_pair_count_by_user(user_id))
