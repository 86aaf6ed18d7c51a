"""Voilà's configuration for ``python -m lecturekit present``, read after the user's own
voila.py and voila.json (see ``lecturekit.course.present.voila_command``).

When its tab closes, Voilà's page asks the server to shut its kernel down, with a request
that must carry the value of Tornado's XSRF cookie; Voilà 0.5 never sets that cookie, so in
a browser without one (from another Jupyter server on the same host) the request is refused
(403) and the kernel, over a gigabyte with EfficientNet-Lite0, stays. The hook below gives
the page the cookie. It is defined here, not in the kit: importing ``lecturekit`` would load
PyTorch into the server, which needs none.
"""


def set_xsrf_cookie(handler, notebook=None, cwd=None):
    """Voilà's prelaunch hook, run for every visit before its kernel starts: reading
    ``handler.xsrf_token`` sets the cookie; returning None leaves the notebook as it is."""
    handler.xsrf_token  # noqa: B018  (a property that sets the cookie)


c = get_config()  # noqa: F821  (traitlets defines it for configuration files)
c.VoilaConfiguration.prelaunch_hook = set_xsrf_cookie
