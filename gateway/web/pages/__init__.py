"""The web pages people use (citizens, inspectors, office staff): Persian, right-to-left, rendered on the server with
Jinja2 (autoescaped), with the gateway's own stylesheet and the Vazirmatn font served from the gateway itself."""
