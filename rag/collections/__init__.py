"""Named collections of documents, each with its own folder and index.

    manage   list/create collections, list documents, add/remove/sync files
    files    safe file names, atomic stores, membership checks
    workspace  one warm Pipeline per collection (the page, an API server)

The CLI (rag/cli/collections.py) and the chat page (ui/documents.py) both
call these functions; neither touches a collection's folder itself.
"""

from rag.collections.files import member, safe_name, store_file
from rag.collections.manage import (
    ChangeReport,
    CollectionInfo,
    DocumentInfo,
    FileResult,
    Progress,
    ProgressFn,
    add_files,
    check_file,
    collection_names,
    create_collection,
    list_collections,
    list_documents,
    remove_files,
    sync_folder,
)
from rag.collections.workspace import Workspace

__all__ = [
    "ChangeReport", "CollectionInfo", "DocumentInfo", "FileResult", "Progress", "ProgressFn", "add_files",
    "check_file", "collection_names", "create_collection", "list_collections", "list_documents", "member",
    "remove_files", "safe_name", "store_file", "sync_folder", "Workspace",
]
