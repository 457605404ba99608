"""Evaluation: a QA set through the pipeline, scored and reported.

    qaset     the QA file format: load, validate, check against the corpus
    metrics   scoring one answer, and the one table of metrics
    baseline  the plain LangChain RAG, as a reference row
    runner    configurations through the pipeline
    report    results.jsonl, report.json, report.md, the chart

Owns measuring the product. Leaves out the product (it only calls
`Pipeline`) and the questions themselves (evals/).
"""
