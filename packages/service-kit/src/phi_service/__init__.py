"""What every Phi Agents HTTP service and its workers share.

``tokens`` (access tokens), ``deps`` (typed request dependencies and tenant access checks),
``errors`` (API errors and their JSON answers), ``db`` (the async database handle), ``jobs``
and ``worker`` (the procrastinate queue, its maintenance tasks and the worker runner),
``settings`` (the settings every service adds to the platform's), ``testing`` (live servers,
worker processes and route enumeration for tests). Apps never import each other; what two of
them need lives here, once.
"""
