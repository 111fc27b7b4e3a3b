"""The package's layers, as the import graph shows them (issue 13): the pure core imports no
edge, the edges import no daemon, the API imports nothing of the daemon (it declares what it
needs as Protocols, and the daemon serves it), front ends reach the daemon only through the
client and share presentation through colony.present, not through each other, and no
package has an import cycle (the daemon's went with issue 13's composition root). Imports
under TYPE_CHECKING count."""

from __future__ import annotations

import grimp
import pytest

GRAPH = grimp.build_graph("colony", exclude_type_checking_imports=False)
EDGES = ("colony.host", "colony.isolation", "colony.vcs", "colony.store")
FRONTS = ("colony.cli", "colony.tui", "colony.web")
UPPER = ("colony.daemon", "colony.api")
# Where the daemon serves the API: main.py makes the apps, http.py the TCP listener's tokens.
SERVES_API = ("colony.daemon.main", "colony.daemon.http")


def imports(importer: str, imported: str) -> list[tuple[str, str]]:
    """Direct imports from modules in package ``importer`` of modules in package ``imported``."""
    found = []
    for module in GRAPH.find_children(importer) | {importer}:
        for each in GRAPH.find_descendants(module) | {module}:
            for target in GRAPH.find_modules_directly_imported_by(each):
                if target == imported or target.startswith(imported + "."):
                    found.append((each, target))
    return sorted(set(found))


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(GRAPH.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append(
                        (child, iter(sorted(GRAPH.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


@pytest.mark.parametrize("upper", [*EDGES, *UPPER, *FRONTS])
def test_the_core_imports_no_other_layer(upper: str) -> None:
    """colony.core decides; it never imports an edge, the daemon or a front end."""
    assert imports("colony.core", upper) == []


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("upper", [*UPPER, *FRONTS])
def test_edges_import_no_daemon_and_no_front_end(edge: str, upper: str) -> None:
    assert imports(edge, upper) == []


def test_the_api_imports_nothing_of_the_daemon() -> None:
    """colony.api takes the daemon's components as the Protocols of colony.api.ports; no
    module of it imports the daemon, directly or through another package."""
    assert imports("colony.api", "colony.daemon") == []
    chain = GRAPH.chain_exists(importer="colony.api", imported="colony.daemon", as_packages=True)
    assert not chain


def test_the_daemon_reaches_the_api_only_where_it_serves_it() -> None:
    """The composition root builds the components; only the modules that serve the API import
    it, so the API's routes never become a part of the daemon's own workings."""
    used = {importer for importer, _ in imports("colony.daemon", "colony.api")}
    assert used - set(SERVES_API) == set()


@pytest.mark.parametrize("front", FRONTS)
def test_front_ends_reach_the_daemon_only_through_the_client(front: str) -> None:
    """Front ends talk to the daemon's API; the one exception is the command that runs it."""
    used = imports(front, "colony.daemon") + imports(front, "colony.api")
    assert [pair for pair in used if pair != ("colony.cli.daemon", "colony.daemon.main")] == []


def test_stem_imports_nothing_of_the_cli() -> None:
    """Stem shows what the CLI shows through colony.present, never by importing the CLI."""
    assert imports("colony.tui", "colony.cli") == []


@pytest.mark.parametrize("other", [*FRONTS, *UPPER, "colony.client"])
def test_presentation_imports_no_front_end_and_no_daemon(other: str) -> None:
    """colony.present turns the API's JSON into Text; it needs neither a front end, the
    daemon nor the client that fetches the JSON."""
    assert imports("colony.present", other) == []


@pytest.mark.parametrize("edge", EDGES)
def test_presentation_imports_no_edge(edge: str) -> None:
    assert imports("colony.present", edge) == []


def test_no_import_cycles() -> None:
    """No group of modules imports itself in a loop, the daemon's included."""
    assert cycles() == []


def test_the_contract_imports_nothing_but_the_core() -> None:
    """colony.contract (the request bodies) is shared by the client and the API, so it needs
    neither: nothing of Colony but the core and the errors."""
    used = {target for _, target in imports("colony.contract", "colony")}
    assert {t for t in used if not t.startswith(("colony.core", "colony.errors"))} == set()


def test_the_answers_import_nothing_but_the_errors() -> None:
    """colony.contract_responses (the API's answers) is shared by the daemon, the API and
    the client, and loaded by quick commands (issue 15): nothing of Colony but the errors."""
    used = {target for _, target in imports("colony.contract_responses", "colony")}
    assert used <= {"colony.errors"}
