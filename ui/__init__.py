"""The Gradio chat page. `ui.app.launch(settings)` serves it; `ui.render`
turns an `Answer` into escaped HTML. No retrieval or answering logic here."""
