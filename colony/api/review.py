"""API: review and recovery (issue 6): diff, merge, snapshots, undo, conflicts, trash.

A colony's review routes live under ``/colonies/{name}/workspace/`` so they never meet the
lifecycle route ``POST /colonies/{name}/{action}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.access import sight
from colony.api.common import caller, json_body
from colony.api.ports import Conflicts, Review, Trash
from colony.contract import Merge, Snapshot, Undo, decode


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "") in ("1", "true", "yes")


def routes(review: Review, watch: Conflicts, bin_: Trash) -> list[BaseRoute]:
    async def diff(request: Request) -> JSONResponse:
        """
        summary: The colony's changes against its base (committed and uncommitted files).
        responses:
          200: {description: '{colony, base, branch, diff, stat: {files, added, deleted, lines,
            paths}}'}
        """
        result = await review.diff(request.path_params["name"], stat=_flag(request, "stat"))
        return JSONResponse(result)

    async def merge(request: Request) -> JSONResponse:
        """
        summary: Merge the colony's work into a branch (default the one it came from).
        requestBody: {description: '{into, squash, force, message}'}
        responses:
          200: {description: '{merged, colony, into, commit, previous, squash, fast_forward}'}
          409: {description: it would conflict (the message lists the files; nothing changed),
            or its agent still runs}
        """
        body = decode(Merge, await json_body(request))
        result = await review.merge(
            request.path_params["name"],
            into=body.into,
            squash=body.squash,
            force=body.force,
            message=body.message,
            user=caller(request),
        )
        return JSONResponse(result)

    async def snapshots(request: Request) -> JSONResponse:
        """
        summary: The colony's snapshots, numbered from 1, oldest first.
        responses:
          200: {description: '{"snapshots": [{number, ref, commit, message, at, session, turn}]}'}
        """
        found = await review.snapshots(request.path_params["name"])
        return JSONResponse({"snapshots": found})

    async def snapshot(request: Request) -> JSONResponse:
        """
        summary: Record the workspace's files as a snapshot; its branch does not move.
        requestBody: {description: '{message}'}
        responses:
          201: {description: '{number, ref, commit, message, at, colony}'}
        """
        body = decode(Snapshot, await json_body(request))
        result = await review.snapshot(request.path_params["name"], body.message)
        return JSONResponse(result, status_code=201)

    async def undo(request: Request) -> JSONResponse:
        """
        summary: Restore the workspace's files to a snapshot (default the latest), or to
          the state before agent session N started (session).
        requestBody: {description: '{to, session, force}'}
        responses:
          200: {description: '{colony, restored: Snapshot, saved: Snapshot of what it replaced}'}
          404: {description: no such snapshot; nothing changed}
        """
        body = decode(Undo, await json_body(request))
        result = await review.undo(
            request.path_params["name"], body.to, force=body.force, session=body.session
        )
        return JSONResponse(result)

    async def conflicts(request: Request) -> JSONResponse:
        """
        summary: Files changed in two or more colonies of one repository.
        responses:
          200: {description: '{"conflicts": [{repo, path, colonies}]}'}
        """
        found = await watch.current()
        sees = sight(request)  # only conflicts between colonies the caller all sees
        shown = [c.to_json() for c in found if all(sees.colony(n) for n in c.colonies)]
        return JSONResponse({"conflicts": shown})

    async def trash(request: Request) -> JSONResponse:
        """
        summary: Removed colonies that can be restored.
        responses:
          200: {description: '{"trash": [{id, name, removed, owner, repo, branch, base, saved,
            snapshot, dir}], "strays": [path]}'}
        """
        mine = _own(request)
        strays = bin_.strays() if mine is None else []
        return JSONResponse({"trash": bin_.entries(mine), "strays": strays})

    async def restore(request: Request) -> JSONResponse:
        """
        summary: Bring a trashed colony back (by id, or a name for its latest removal).
        responses:
          202: {description: the colony, starting}
          409: {description: a colony of that name exists}
        """
        colony = await bin_.restore(request.path_params["which"], _own(request))
        return JSONResponse(colony, status_code=202)

    async def purge(request: Request) -> JSONResponse:
        """
        summary: Delete trash entries for good (one, or all with ?all=true).
        responses:
          200: {description: '{"purged": [{id, name, deleted_refs, dir}]}'}
        """
        which = request.path_params.get("which")
        purged = await bin_.purge(which, _own(request))
        return JSONResponse({"purged": purged})

    return [
        Route("/colonies/{name}/workspace/diff", diff, methods=["GET"]),
        Route("/colonies/{name}/workspace/merge", merge, methods=["POST"]),
        Route("/colonies/{name}/workspace/snapshots", snapshots, methods=["GET"]),
        Route("/colonies/{name}/workspace/snapshots", snapshot, methods=["POST"]),
        Route("/colonies/{name}/workspace/undo", undo, methods=["POST"]),
        Route("/conflicts", conflicts, methods=["GET"]),
        Route("/trash", trash, methods=["GET"]),
        Route("/trash", purge, methods=["DELETE"]),
        Route("/trash/{which}", purge, methods=["DELETE"]),
        Route("/trash/{which}/restore", restore, methods=["POST"]),
    ]


def _own(request: Request) -> str | None:
    """Whose trash entries the caller may list, restore and purge: None (every entry) for an
    admin, else the caller's own (issue 14)."""
    caller = sight(request).caller
    return None if caller.admin else caller.user
