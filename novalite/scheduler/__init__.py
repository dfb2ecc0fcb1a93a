"""The scheduler: picks a compute host for each instance of a build request.

Filters (``novalite.scheduler.filters``) drop hosts that cannot take the
instance and say why, so NoValidHost tells the user what to change;
weighers (``novalite.scheduler.weighers``) rank the survivors. Both are
loaded by stevedore entry-point name, as in Nova, so the enabled set is pure
configuration.
"""
