"""Registering handlers at their operation's row (:data:`gateway_core.routes.OPERATIONS`).

``@endpoint(router, Operation.X)`` takes the method, path and summary from the row and checks
the caller once, in the wrapper it registers, before the handler runs: credentials, route,
operation, access and rate limits (:mod:`gateway_api.api.dispatch`). The handler names its
operation once, in the decorator, and receives what was checked as its parameter annotated
:class:`~gateway_api.api.dispatch.OnRoute` (a start), :class:`~gateway_api.api.dispatch.Target`
(one workflow by id), :class:`~gateway_api.api.dispatch.ScheduleTarget` (one schedule by id) or
:class:`~gateway_api.api.dispatch.Call` (the caller's routes), as the row's ``addressed`` says.

A handler that takes nothing else is registered as a function of the request alone, and the
check is a plain call: FastAPI's resolution of each dependency and parameter costs more than
its work on the request path (docs/performance.md). A handler with parameters of its own (a
query string, a header) gets the check as a dependency instead, so FastAPI runs it before it
validates those parameters: a caller is refused (401, 404) before a bad parameter is (422).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request

from gateway_api.api.dispatch import (
    Call,
    OnRoute,
    ScheduleTarget,
    Target,
    call_of,
    on_route,
    on_schedule,
    on_workflow,
)
from gateway_api.http.request_headers import HeaderParam
from gateway_core.routes import OPERATIONS, Addressed, Operation

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
OPERATION_ID_SCOPE = "workflows"

_CHECKED: dict[Addressed, type] = {
    Addressed.ROUTE: OnRoute,
    Addressed.WORKFLOW: Target,
    Addressed.ROUTES: Call,
    Addressed.SCHEDULE: ScheduleTarget,
}
_PATH_NAME = re.compile(r"{(\w+)}")


def _path_parameter(name: str) -> dict[str, Any]:
    """A path parameter as FastAPI documents a ``str`` argument of that name."""
    title = name.replace("_", " ").title()
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "title": title},
    }


def _checker(operation: Operation) -> Callable[[Request], Awaitable[Any]]:
    """The check the row's ``addressed`` calls for, as a function of the request."""
    addressed = OPERATIONS[operation].addressed
    if addressed is Addressed.ROUTE:
        return functools.partial(on_route, operation=operation)
    if addressed is Addressed.WORKFLOW:
        return functools.partial(on_workflow, operation=operation)
    if addressed is Addressed.SCHEDULE:
        return functools.partial(on_schedule, operation=operation)
    return call_of


def _checked_wrapper(handler: F, operation: Operation) -> Callable[..., Awaitable[Any]]:
    """``handler`` behind the check, with the signature FastAPI should read."""
    signature = inspect.signature(handler, eval_str=True)
    wanted = _CHECKED[OPERATIONS[operation].addressed]
    names = [n for n, p in signature.parameters.items() if p.annotation is wanted]
    if len(names) != 1:
        raise TypeError(
            f"{handler.__name__}: {operation.value!r} hands its handler one {wanted.__name__} "
            f"parameter; found {len(names)}"
        )
    (checked,) = names
    check = _checker(operation)
    others = [p for n, p in signature.parameters.items() if n != checked]
    if not others:

        async def plain(request: Request) -> Any:
            return await handler(await check(request))

        plain.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[
                inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                  annotation=Request)
            ]
        )  # fmt: skip
        return functools.wraps(handler, assigned=("__name__", "__qualname__", "__doc__"))(plain)

    async def dependency(request: Request) -> Any:
        return await check(request)

    async def with_parameters(**kwargs: Any) -> Any:
        return await handler(**kwargs)

    parameters = [
        p.replace(annotation=Annotated[wanted, Depends(dependency)]) if n == checked else p
        for n, p in signature.parameters.items()
    ]
    with_parameters.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]
    )
    return functools.wraps(handler, assigned=("__name__", "__qualname__", "__doc__"))(
        with_parameters
    )


def endpoint(
    router: APIRouter,
    operation: Operation,
    *,
    method: str | None = None,
    path: str | None = None,
    summary: str | None = None,
    headers: Sequence[HeaderParam] = (),
    openapi_extra: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Register the decorated handler for ``operation`` at its row's method and path, behind
    the operation's check (the module docstring).

    ``method``, ``path`` and ``summary`` override the row for a second form of the same
    operation (``GET`` for a query without arguments, the poll location of an update).
    ``headers`` are the ones the handler reads itself (:mod:`gateway_api.http.request_headers`),
    documented as its parameters, as are the path's names that the handler reads from
    ``request.path_params`` instead of taking them as arguments.

    The OpenAPI operationId is ``workflows.<handler name>``: stable while the code is, and
    unique because handler names are. :mod:`gateway_api.openapi.document` derives the per-route
    and per-message ids from it.
    """
    row = OPERATIONS[operation]
    openapi_extra = openapi_extra or {}
    template = path or row.path

    def register(handler: F) -> F:
        kwargs.setdefault("operation_id", f"{OPERATION_ID_SCOPE}.{handler.__name__}")
        wrapper = _checked_wrapper(handler, operation)
        declared = inspect.signature(wrapper).parameters
        parameters = [
            *(
                _path_parameter(name)
                for name in _PATH_NAME.findall(template)
                if name not in declared
            ),
            *(h.openapi() for h in headers),
        ]
        extra = {**openapi_extra, "x-gateway-operation": operation.value}
        if parameters:
            extra["parameters"] = parameters
        router.add_api_route(
            template,
            wrapper,
            methods=[method or row.method],
            summary=summary or row.summary,
            openapi_extra=extra,
            **kwargs,
        )
        return handler

    return register
