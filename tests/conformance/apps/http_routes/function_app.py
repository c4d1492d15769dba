"""HTTP-triggered functions exercising routing, methods, auth levels and return conventions."""

import asyncio
import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest, function: str) -> func.HttpResponse:
    body = {
        "function": function,
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "header": req.headers.get("x-test-header"),
        "body": req.get_body().decode("utf-8"),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json", headers={"x-served-by": function})


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "item_by_number")


@app.route(route="items/{name}", methods=["GET", "PUT"])
async def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return _echo(req, "item_by_name")


@app.route(route="items/special", methods=["GET"])
def item_special(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "item_special")


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "files")


@app.route(route="optional/{id?}")
def optional(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "optional")


@app.function_name("default_route")
@app.route(methods=["POST"])
def default_route(req: func.HttpRequest, context: func.Context) -> str:
    return f"{context.function_name}:{req.get_body().decode()}"


@app.route(route="secure/function", auth_level=func.AuthLevel.FUNCTION)
def secure_function(req: func.HttpRequest) -> str:
    return "function-level ok"


@app.route(route="secure/admin", auth_level=func.AuthLevel.ADMIN)
def secure_admin(req: func.HttpRequest) -> str:
    return "admin-level ok"


@app.route(route="returns/none")
def returns_none(req: func.HttpRequest) -> None:
    return None


@app.route(route="returns/dict")
def returns_dict(req: func.HttpRequest) -> dict[str, str]:
    return {"not": "allowed"}


@app.route(route="raises")
def raises(req: func.HttpRequest) -> str:
    raise RuntimeError("boom in user code")
