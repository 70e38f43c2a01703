"""The library under the scripts' entry points.

``training`` (the side-by-side loop, a run prepared then trained) and ``drift``
(lockstep) over ``twins`` (the two implementations behind one interface),
``fit`` (the architecture against the data), ``checkpoint``, ``records``,
``runs`` (run folders and their lock), ``artifacts`` (atomic files),
``plots``, ``errors`` (the error policy), ``flags``, ``settings``, the
registries ``optimizers``, ``schedulers`` and ``recipes``, ``env`` (threads
and the environment a record keeps), ``mnist`` (the verified data) and
``process`` (process tuning, an explicit call).
"""
