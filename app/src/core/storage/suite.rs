//! The behaviour every [`BlobStore`] backend must show: each backend's tests
//! run [`run`] against a real instance (public so that the server's tests can
//! run it against object storage they start).

use bytes::Bytes;
use futures_util::{StreamExt, stream};

use super::{BlobStore, ByteRange, ByteStream, Error, StreamedHash, UploadId};
use crate::core::registry::digest::{Algorithm, Digest, Hasher};

fn chunks(parts: &[&'static [u8]]) -> ByteStream {
    Box::pin(stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()))
}

async fn read_all(store: &dyn BlobStore, digest: &Digest, range: Option<ByteRange>) -> Vec<u8> {
    let reader = store.read(digest, range).await.unwrap().expect("blob exists");
    let mut body = reader.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// Exercises every operation of the contract; panics on the first breach.
pub async fn run(store: &dyn BlobStore) {
    store.check_writable().await.unwrap();

    // Chunked upload with a streaming hash, committed under its digest.
    let content = b"hello, berth";
    let digest = Digest::sha256_of(content);
    let id = UploadId::generate();
    store.start_upload(&id).await.unwrap();
    assert_eq!(store.upload_size(&id).await.unwrap(), Some(0));
    let mut hasher = Hasher::new(Algorithm::Sha256);
    assert_eq!(store.append_upload(&id, 0, chunks(&[b"hello", b", "]), Some(&mut hasher)).await.unwrap(), 7);
    // A chunk at the wrong offset is refused and changes nothing.
    let wrong = store.append_upload(&id, 3, chunks(&[b"xx"]), None).await;
    assert!(matches!(wrong, Err(Error::OffsetMismatch { expected: 3, actual: 7 })));
    assert_eq!(store.append_upload(&id, 7, chunks(&[b"berth"]), Some(&mut hasher)).await.unwrap(), 12);
    let streamed = StreamedHash { digest: hasher.finish(), size: 12 };
    assert_eq!(store.commit_upload(&id, &digest, Some(streamed)).await.unwrap(), 12);
    assert_eq!(store.upload_size(&id).await.unwrap(), None, "the staging area is gone");
    assert_eq!(store.stat(&digest).await.unwrap(), Some(12));
    assert_eq!(read_all(store, &digest, None).await, content);
    assert_eq!(read_all(store, &digest, Some(ByteRange { first: 7, last: 11 })).await, b"berth");
    let past_end = store.read(&digest, Some(ByteRange { first: 5, last: 12 })).await;
    assert!(matches!(past_end, Err(Error::RangeNotSatisfiable { size: 12, .. })));

    // The same content again (another client, another upload): create-only, no error.
    let again = UploadId::generate();
    store.start_upload(&again).await.unwrap();
    store.append_upload(&again, 0, chunks(&[content]), None).await.unwrap();
    assert_eq!(store.commit_upload(&again, &digest, None).await.unwrap(), 12);
    assert_eq!(read_all(store, &digest, None).await, content);

    // A lying digest is refused and stores nothing, even with a lying streaming hash.
    let liar = UploadId::generate();
    store.start_upload(&liar).await.unwrap();
    store.append_upload(&liar, 0, chunks(&[b"evil"]), None).await.unwrap();
    let claimed = Digest::sha256_of(b"good");
    let refused = store.commit_upload(&liar, &claimed, None).await;
    assert!(matches!(refused, Err(Error::DigestMismatch { .. })));
    assert_eq!(store.stat(&claimed).await.unwrap(), None);

    // A streaming hash that did not see every staged byte (another writer
    // added some) is not trusted: the bytes published are the bytes hashed.
    let raced = UploadId::generate();
    store.start_upload(&raced).await.unwrap();
    let mut hasher = Hasher::new(Algorithm::Sha256);
    store.append_upload(&raced, 0, chunks(&[b"good"]), Some(&mut hasher)).await.unwrap();
    store.append_upload(&raced, 4, chunks(&[b" and more"]), None).await.unwrap();
    let claimed = Digest::sha256_of(b"good");
    let streamed = StreamedHash { digest: hasher.finish(), size: 4 };
    assert!(matches!(store.commit_upload(&raced, &claimed, Some(streamed)).await, Err(Error::DigestMismatch { .. })));
    assert_eq!(store.stat(&claimed).await.unwrap(), None);
    assert_eq!(store.upload_size(&raced).await.unwrap(), None, "a refused commit leaves nothing staged");

    // Claiming a stored digest for other bytes is refused too, hash or not.
    let copycat = UploadId::generate();
    store.start_upload(&copycat).await.unwrap();
    store.append_upload(&copycat, 0, chunks(&[b"not hello"]), None).await.unwrap();
    assert!(matches!(store.commit_upload(&copycat, &digest, None).await, Err(Error::DigestMismatch { .. })));
    assert_eq!(read_all(store, &digest, None).await, content);

    // Big content over several requests, hashed by the store at the end.
    let big: Vec<u8> = (0..9 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    let big_digest = Digest::sha256_of(&big);
    let (head, tail) = big.split_at(5 * 1024 * 1024 + 3);
    let many = UploadId::generate();
    store.start_upload(&many).await.unwrap();
    let part = |bytes: &[u8]| -> ByteStream { Box::pin(stream::iter([Ok(Bytes::copy_from_slice(bytes))])) };
    assert_eq!(store.append_upload(&many, 0, part(head), None).await.unwrap(), head.len() as u64);
    assert_eq!(store.append_upload(&many, head.len() as u64, part(&[]), None).await.unwrap(), head.len() as u64);
    assert_eq!(store.append_upload(&many, head.len() as u64, part(tail), None).await.unwrap(), big.len() as u64);
    assert_eq!(store.upload_size(&many).await.unwrap(), Some(big.len() as u64));
    assert_eq!(store.commit_upload(&many, &big_digest, None).await.unwrap(), big.len() as u64);
    assert_eq!(store.stat(&big_digest).await.unwrap(), Some(big.len() as u64));
    assert!(read_all(store, &big_digest, None).await == big, "big blob reads back whole");
    let last = big.len() as u64 - 1;
    assert_eq!(read_all(store, &big_digest, Some(ByteRange { first: last - 2, last })).await, &big[big.len() - 3..]);
    store.delete(&big_digest).await.unwrap();

    // sha512 content works the same way.
    let sha512 = Digest::of(Algorithm::Sha512, b"wide");
    let wide = UploadId::generate();
    store.start_upload(&wide).await.unwrap();
    store.append_upload(&wide, 0, chunks(&[b"wide"]), None).await.unwrap();
    assert_eq!(store.commit_upload(&wide, &sha512, None).await.unwrap(), 4);
    assert_eq!(read_all(store, &sha512, None).await, b"wide");

    // Cancelled and unknown uploads; listing shows what is staged.
    let cancelled = UploadId::generate();
    store.start_upload(&cancelled).await.unwrap();
    let listed = store.list_uploads().await.unwrap();
    assert!(listed.iter().any(|u| u.id == cancelled), "{listed:?}");
    assert!(!listed.iter().any(|u| u.id == id), "committed uploads are gone: {listed:?}");
    store.cancel_upload(&cancelled).await.unwrap();
    assert_eq!(store.upload_size(&cancelled).await.unwrap(), None);
    let unknown = store.append_upload(&cancelled, 0, chunks(&[b"x"]), None).await;
    assert!(matches!(unknown, Err(Error::UploadUnknown(_))));
    assert!(matches!(store.commit_upload(&cancelled, &digest, None).await, Err(Error::UploadUnknown(_))));

    // A client stream that breaks keeps what arrived before the break.
    let broken = UploadId::generate();
    store.start_upload(&broken).await.unwrap();
    let failing: ByteStream =
        Box::pin(stream::iter(vec![Ok(Bytes::from_static(b"part")), Err(std::io::Error::other("connection reset"))]));
    assert!(matches!(store.append_upload(&broken, 0, failing, None).await, Err(Error::Client(_))));
    assert_eq!(store.upload_size(&broken).await.unwrap(), Some(4));
    store.cancel_upload(&broken).await.unwrap();
    assert!(store.list_uploads().await.unwrap().is_empty());

    // Quarantine takes a blob out of service and says whether there was one.
    let doubtful = Digest::sha256_of(b"doubtful");
    let staged = UploadId::generate();
    store.start_upload(&staged).await.unwrap();
    store.append_upload(&staged, 0, chunks(&[b"doubtful"]), None).await.unwrap();
    store.commit_upload(&staged, &doubtful, None).await.unwrap();
    assert!(store.quarantine(&doubtful).await.unwrap());
    assert_eq!(store.stat(&doubtful).await.unwrap(), None);
    assert!(store.read(&doubtful, None).await.unwrap().is_none());
    assert!(!store.quarantine(&doubtful).await.unwrap());

    // Deleting is idempotent.
    store.delete(&digest).await.unwrap();
    store.delete(&digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), None);
    assert!(store.read(&digest, None).await.unwrap().is_none());
}

#[cfg(test)]
#[test]
fn upload_ids_are_only_what_berth_generates() {
    let id = UploadId::generate();
    assert_eq!(UploadId::parse(id.as_str()), Some(id));
    for bad in
        ["", "../etc/passwd", "not-a-uuid", "A0B1C2D3-0000-4000-8000-000000000000", "a0b1c2d30000400080000000000000000"]
    {
        assert_eq!(UploadId::parse(bad), None, "{bad}");
    }
}
