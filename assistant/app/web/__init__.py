"""The web app (Gradio 6), one module per tab; `build_app` and `launch_app` live in app.py."""
