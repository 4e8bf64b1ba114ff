//! The file records suite: documents of sessions and avatar uploads in progress.

use std::sync::Arc;

use dragoman_domain::UserId;
use dragoman_ports::{
    AvatarUpload, DocumentRecord, DocumentStatus, FileStore, MatchingStore, Store, StoreError,
};
use uuid::Uuid;

use crate::matching::fixtures::{at, available_interpreter, client, session_between};

/// Expands the file records suite into tests. `$factory` yields
/// `(Arc<dyn Store>, Arc<dyn MatchingStore>, Arc<dyn FileStore>, guard)`.
#[macro_export]
macro_rules! files_suite {
    ($factory:expr) => {
        $crate::files_suite!(@cases $factory;
            documents_round_trip_and_become_ready_once,
            documents_list_by_session_in_pages,
            documents_of_unknown_sessions_are_refused,
            only_pending_documents_are_deleted,
            avatar_upload_completes_once_and_replaces_the_avatar,
            a_new_avatar_upload_replaces_the_one_in_progress,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, matching, files, _guard) = $factory;
                $crate::files::$case(store, matching, files).await;
            }
        )+
    };
}

/// A session between a new client and a new interpreter; returns its id and the client.
async fn session(store: &dyn Store, matching: &dyn MatchingStore) -> (Uuid, UserId) {
    let tag = Uuid::now_v7().simple().to_string();
    let client = client(store, &format!("client{tag}")).await;
    let interpreter =
        available_interpreter(store, matching, &format!("interp{tag}"), &["es"], 0).await;
    let session = session_between(matching, client, interpreter, "es", 0).await;
    (session.id.0, client)
}

fn document(session_id: Uuid, uploader: UserId) -> DocumentRecord {
    let id = Uuid::now_v7();
    DocumentRecord {
        id,
        session_id,
        uploader_id: uploader,
        filename: "consent form (signed).pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        size_bytes: 12_345,
        object_key: format!("sessions/{session_id}/documents/{id}"),
        status: DocumentStatus::Pending,
        created_at: at(10),
        ready_at: None,
    }
}

fn avatar(user: UserId, t: i64) -> AvatarUpload {
    AvatarUpload {
        user_id: user,
        object_key: format!("users/{user}/avatar/{}", Uuid::now_v7()),
        content_type: "image/png".to_owned(),
        size_bytes: 2048,
        created_at: at(t),
    }
}

pub async fn documents_round_trip_and_become_ready_once(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let (session_id, uploader) = session(store.as_ref(), matching.as_ref()).await;
    let doc = document(session_id, uploader);
    files.create_document(&doc).await.expect("created");
    assert_eq!(
        files.document(session_id, doc.id).await.expect("read"),
        Some(doc.clone())
    );
    assert_eq!(
        files.document(Uuid::now_v7(), doc.id).await.expect("read"),
        None,
        "a document is found only under its own session"
    );
    assert!(
        files
            .mark_document_ready(doc.id, at(20))
            .await
            .expect("ready")
    );
    assert!(
        !files
            .mark_document_ready(doc.id, at(30))
            .await
            .expect("ready again"),
        "a ready document is not made ready twice"
    );
    let read = files
        .document(session_id, doc.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read.status, DocumentStatus::Ready);
    assert_eq!(read.ready_at, Some(at(20)));
    assert!(
        !files
            .mark_document_ready(Uuid::now_v7(), at(20))
            .await
            .expect("unknown")
    );
}

pub async fn documents_list_by_session_in_pages(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let (session_id, uploader) = session(store.as_ref(), matching.as_ref()).await;
    let (other_session, other_uploader) = session(store.as_ref(), matching.as_ref()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let doc = document(session_id, uploader);
        files.create_document(&doc).await.expect("created");
        ids.push(doc.id);
    }
    files
        .create_document(&document(other_session, other_uploader))
        .await
        .expect("created");
    let first = files
        .documents_of_session(session_id, None, 2)
        .await
        .expect("listed");
    assert_eq!(first.iter().map(|d| d.id).collect::<Vec<_>>(), ids[..2]);
    let rest = files
        .documents_of_session(session_id, Some(ids[1]), 2)
        .await
        .expect("listed");
    assert_eq!(rest.iter().map(|d| d.id).collect::<Vec<_>>(), ids[2..]);
}

pub async fn documents_of_unknown_sessions_are_refused(
    _store: Arc<dyn Store>,
    _matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let doc = document(Uuid::now_v7(), UserId(Uuid::now_v7()));
    assert!(matches!(
        files.create_document(&doc).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn only_pending_documents_are_deleted(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let (session_id, uploader) = session(store.as_ref(), matching.as_ref()).await;
    let pending = document(session_id, uploader);
    let ready = document(session_id, uploader);
    files.create_document(&pending).await.expect("created");
    files.create_document(&ready).await.expect("created");
    assert!(
        files
            .mark_document_ready(ready.id, at(11))
            .await
            .expect("ready")
    );
    assert!(
        files
            .delete_pending_document(pending.id)
            .await
            .expect("deleted")
    );
    assert!(
        !files
            .delete_pending_document(pending.id)
            .await
            .expect("gone")
    );
    assert!(!files.delete_pending_document(ready.id).await.expect("kept"));
    assert_eq!(
        files.document(session_id, pending.id).await.expect("read"),
        None
    );
    assert!(
        files
            .document(session_id, ready.id)
            .await
            .expect("read")
            .is_some()
    );
}

pub async fn avatar_upload_completes_once_and_replaces_the_avatar(
    store: Arc<dyn Store>,
    _matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let user = client(store.as_ref(), &format!("a{}", Uuid::now_v7().simple())).await;
    let first = avatar(user, 1);
    assert_eq!(files.put_avatar_upload(&first).await.expect("put"), None);
    assert_eq!(
        files.avatar_upload(user).await.expect("read"),
        Some(first.clone())
    );
    assert!(matches!(
        files.complete_avatar(user, "users/other/avatar/x").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        files
            .complete_avatar(user, &first.object_key)
            .await
            .expect("completed"),
        None,
        "no earlier avatar"
    );
    assert_eq!(files.avatar_upload(user).await.expect("read"), None);
    let stored = store.user(user).await.expect("read").expect("present");
    assert_eq!(
        stored.avatar_key.as_deref(),
        Some(first.object_key.as_str())
    );
    assert!(
        matches!(
            files.complete_avatar(user, &first.object_key).await,
            Err(StoreError::NotFound)
        ),
        "an upload completes once"
    );

    let second = avatar(user, 2);
    files.put_avatar_upload(&second).await.expect("put");
    assert_eq!(
        files
            .complete_avatar(user, &second.object_key)
            .await
            .expect("completed"),
        Some(first.object_key.clone()),
        "completing reports the avatar it replaced"
    );
    let stored = store.user(user).await.expect("read").expect("present");
    assert_eq!(stored.avatar_key, Some(second.object_key));
}

pub async fn a_new_avatar_upload_replaces_the_one_in_progress(
    store: Arc<dyn Store>,
    _matching: Arc<dyn MatchingStore>,
    files: Arc<dyn FileStore>,
) {
    let user = client(store.as_ref(), &format!("a{}", Uuid::now_v7().simple())).await;
    let first = avatar(user, 1);
    let second = avatar(user, 2);
    files.put_avatar_upload(&first).await.expect("put");
    assert_eq!(
        files.put_avatar_upload(&second).await.expect("put"),
        Some(first.object_key.clone())
    );
    assert!(
        !files
            .drop_avatar_upload(user, &first.object_key)
            .await
            .expect("stale")
    );
    assert!(matches!(
        files.complete_avatar(user, &first.object_key).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        files
            .drop_avatar_upload(user, &second.object_key)
            .await
            .expect("dropped")
    );
    assert_eq!(files.avatar_upload(user).await.expect("read"), None);
    assert!(
        matches!(
            files
                .put_avatar_upload(&avatar(UserId(Uuid::now_v7()), 3))
                .await,
            Err(StoreError::NotFound)
        ),
        "an upload for an unknown user is refused"
    );
}
