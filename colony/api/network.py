"""API: a colony's network: its policy (changed live), connection records, firewall text."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.common import caller, int_param, json_body
from colony.api.ports import Colonies, Network
from colony.contract import PolicyBody, PolicyChange, decode
from colony.core.policy import parse_policy
from colony.errors import ConfigError


def _colony(myc: Colonies, request: Request) -> str:
    name: str = request.path_params["name"]
    myc.actor(name)  # 404 for an unknown colony
    return name


def routes(myc: Colonies, net: Network) -> list[BaseRoute]:
    async def network(request: Request) -> JSONResponse:
        """
        summary: A colony's policy, resolved names, counters, recent connection records and
          DNS questions.
        responses:
          200: {description: '{policy, source, resolved, learned, stub, accepted, denied,
            destinations, records, dns: {answered, refused, names, queries}, blocked: [{host,
            port, count, last, reason, via, fix, denied_by}]}'}
          404: {description: no such colony}
        """
        name = _colony(myc, request)
        limit = int_param(request.query_params.get("limit", "50"), "limit")
        return JSONResponse(net.view(name, limit))

    async def set_policy(request: Request) -> JSONResponse:
        """
        summary: Replace a colony's egress policy, live, in one nft transaction.
        requestBody: {description: '{egress: allow|deny|allowlist, allow: [..], deny: [..]}'}
        responses:
          200: {description: 'the network view, with "warnings"'}
          400: {description: bad policy; nothing changed}
        """
        name = _colony(myc, request)
        body = decode(PolicyBody, await json_body(request))
        policy = parse_policy(body.egress, body.allow, body.deny)
        warnings = await net.set_policy(name, policy, by=caller(request))
        return JSONResponse({**net.view(name, 0), "warnings": warnings})

    async def change_policy(request: Request) -> JSONResponse:
        """
        summary: Add entries to a colony's policy in effect, or take some out, live (issue
          16); its egress mode stays.
        requestBody: {description: '{allow: [..], deny: [..], remove: [..]}: an entry added
          to one list leaves the other'}
        responses:
          200: {description: 'the network view, with "warnings"'}
          400: {description: a bad entry, or one to remove the policy does not have}
          409: {description: the colony has no network and no stored policy to amend}
        """
        name = _colony(myc, request)
        body = decode(PolicyChange, await json_body(request))
        if not (body.allow or body.deny or body.remove):
            raise ConfigError("request body: expected entries in allow, deny or remove, got none")
        warnings = await net.change_policy(
            name, allow=body.allow, deny=body.deny, remove=body.remove, by=caller(request)
        )
        return JSONResponse({**net.view(name, 0), "warnings": warnings})

    async def reset_policy(request: Request) -> JSONResponse:
        """
        summary: Drop a colony's policy override; colony.toml's [network] applies again.
        responses:
          200: {description: the network view}
        """
        name = _colony(myc, request)
        await net.set_policy(name, None, by=caller(request))
        return JSONResponse({**net.view(name, 0), "warnings": []})

    async def firewall(request: Request) -> JSONResponse:
        """
        summary: The nft text of a colony's table as the daemon would load it now.
        responses:
          200: {description: '{"colony", "text"}'}
        """
        name = _colony(myc, request)
        return JSONResponse({"colony": name, "text": net.render(name)})

    return [
        Route("/colonies/{name}/network", network, methods=["GET"]),
        Route("/colonies/{name}/policy", set_policy, methods=["PUT"]),
        Route("/colonies/{name}/policy", reset_policy, methods=["DELETE"]),
        Route("/colonies/{name}/policy", change_policy, methods=["PATCH"]),
        Route("/colonies/{name}/firewall", firewall, methods=["GET"]),
    ]
