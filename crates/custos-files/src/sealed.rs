//! Files that hold personal data outside the database — uploads waiting to be imported,
//! export files waiting to be downloaded — are kept sealed: encrypted with AES-256-GCM
//! under a key derived from the PII master key, in frames of [`FRAME`] bytes that are
//! authenticated one by one, so a file of any size is written and read in bounded memory,
//! and read at any position (XLSX is a ZIP archive, read by seeking).
//!
//! Layout: `custos-sealed/1\n` (16 bytes), the key id (8 ASCII bytes), a random base
//! nonce (12 bytes), then the frames. Frame `i` is the GCM ciphertext and tag of
//! plaintext bytes `i·FRAME ..`; its nonce is the base nonce with `i` XORed into its last
//! eight bytes, and its associated data names the format, `i` and whether it is the
//! last frame. Every frame but the last holds exactly `FRAME` bytes; the last holds
//! 0..=`FRAME`. Cutting the file at a frame boundary, swapping, repeating or appending
//! frames, or changing a byte makes the damaged frame fail to authenticate.
//!
//! [`ChunkCipher`] (numbered, last-flagged AEAD chunks) also seals encrypted backups.
//!
//! The key is a [`FileKey`]: the use cases derive it from the PII master key (its id is
//! the master key's) and pass anything that gives one ([`AsRef<FileKey>`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The key sealed files are encrypted with, and the id written in their header (8
/// ASCII bytes) that names the key they need.
#[derive(Clone)]
pub struct FileKey {
    key_id: String,
    key: [u8; 32],
}

impl FileKey {
    /// `key_id` must be 8 ASCII bytes (it is written into each file's header as it is).
    pub fn new(key_id: String, key: [u8; 32]) -> FileKey {
        FileKey { key_id, key }
    }

    /// A fresh random key with a random 8-character id (tests; the use cases derive
    /// the key from the PII master key).
    pub fn random() -> FileKey {
        let mut key = [0u8; 32];
        let mut id = [0u8; 4];
        rand::thread_rng().fill_bytes(&mut key);
        rand::thread_rng().fill_bytes(&mut id);
        FileKey::new(hex::encode(id), key)
    }

    /// The id of the key, as written in the header of the files it seals.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl AsRef<FileKey> for FileKey {
    fn as_ref(&self) -> &FileKey {
        self
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileKey({})", self.key_id)
    }
}

const MAGIC: &[u8; 16] = b"custos-sealed/1\n";
const DOMAIN: &[u8; 15] = b"custos-sealed/1";
const KEY_ID_LEN: usize = 8;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
const HEADER_LEN: u64 = (MAGIC.len() + KEY_ID_LEN + NONCE_LEN) as u64;
/// Plaintext bytes per frame.
pub const FRAME: usize = 64 * 1024;
const SEALED_FRAME: u64 = (FRAME + TAG_LEN) as u64;

/// AES-256-GCM over a stream cut into numbered chunks: each chunk's nonce is derived
/// from a base nonce and its number, its associated data carries a domain label, the
/// number and a last-chunk flag (so chunks cannot be moved, dropped or added unseen).
pub struct ChunkCipher {
    cipher: Aes256Gcm,
    nonce: [u8; NONCE_LEN],
    domain: [u8; 15],
}

impl ChunkCipher {
    pub fn new(cipher: Aes256Gcm, nonce: [u8; NONCE_LEN], domain: &[u8; 15]) -> Self {
        ChunkCipher {
            cipher,
            nonce,
            domain: *domain,
        }
    }

    fn nonce_for(&self, index: u64) -> [u8; NONCE_LEN] {
        let mut n = self.nonce;
        for (b, i) in n[NONCE_LEN - 8..].iter_mut().zip(index.to_be_bytes()) {
            *b ^= i;
        }
        n
    }

    fn aad(&self, index: u64, last: bool) -> [u8; 24] {
        let mut aad = [0u8; 24];
        aad[..15].copy_from_slice(&self.domain);
        aad[15..23].copy_from_slice(&index.to_be_bytes());
        aad[23] = u8::from(last);
        aad
    }

    pub fn seal(&self, index: u64, last: bool, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        let aad = self.aad(index, last);
        self.cipher
            .encrypt(
                Nonce::from_slice(&self.nonce_for(index)),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| std::io::Error::other("encryption failed"))
    }

    /// The plaintext, or `None` when the chunk does not authenticate.
    pub fn open(&self, index: u64, last: bool, sealed: &[u8]) -> Option<Vec<u8>> {
        let aad = self.aad(index, last);
        self.cipher
            .decrypt(
                Nonce::from_slice(&self.nonce_for(index)),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
    }
}

fn file_cipher(key: &FileKey, nonce: [u8; NONCE_LEN]) -> ChunkCipher {
    ChunkCipher::new(Aes256Gcm::new((&key.key).into()), nonce, DOMAIN)
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// Seals a stream pushed to it a piece at a time; the caller writes out what each call
/// returns, in order (for writers that are not [`Write`], e.g. async files).
pub struct Sealer {
    chunks: ChunkCipher,
    header: Option<Vec<u8>>,
    buf: Vec<u8>,
    index: u64,
}

impl Sealer {
    pub fn new<K: AsRef<FileKey> + ?Sized>(key: &K) -> Sealer {
        let key = key.as_ref();
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(key.key_id().as_bytes());
        header.extend_from_slice(&nonce);
        Sealer {
            chunks: file_cipher(key, nonce),
            header: Some(header),
            buf: Vec::with_capacity(FRAME),
            index: 0,
        }
    }

    /// Take more plaintext; returns the sealed bytes now ready (possibly none).
    pub fn push(&mut self, mut data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = self.header.take().unwrap_or_default();
        while !data.is_empty() {
            // A full buffer is sealed only once more data follows: the last frame must
            // be known as last when it is sealed.
            if self.buf.len() == FRAME {
                out.extend(self.chunks.seal(self.index, false, &self.buf)?);
                self.index += 1;
                self.buf.clear();
            }
            let n = data.len().min(FRAME - self.buf.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(out)
    }

    /// End the stream; returns the last sealed bytes.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        let mut out = self.header.take().unwrap_or_default();
        out.extend(self.chunks.seal(self.index, true, &self.buf)?);
        Ok(out)
    }
}

/// A [`Write`] that seals into `out`; call [`SealedWriter::finish`] to end the file (a
/// writer dropped without it leaves a file that does not open).
pub struct SealedWriter<W: Write> {
    sealer: Sealer,
    out: W,
}

impl<W: Write> SealedWriter<W> {
    pub fn new<K: AsRef<FileKey> + ?Sized>(key: &K, out: W) -> SealedWriter<W> {
        SealedWriter {
            sealer: Sealer::new(key),
            out,
        }
    }

    /// Write the last frame; returns the inner writer (flushed).
    pub fn finish(mut self) -> std::io::Result<W> {
        let tail = self.sealer.finish()?;
        self.out.write_all(&tail)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sealed = self.sealer.push(buf)?;
        self.out.write_all(&sealed)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Frames are written whole; a partial frame stays buffered until more data or
        // `finish`.
        self.out.flush()
    }
}

/// A [`Write`] that passes everything on and keeps the length and SHA-256 of what
/// passed: the figures of the plaintext of a file written sealed, or (into
/// [`std::io::sink`]) of a file read through.
pub struct Digesting<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Digesting<W> {
    pub fn new(inner: W) -> Digesting<W> {
        Digesting {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The writer, the byte count and the SHA-256 (hex) of what was written.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.len, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether the file at `path` starts as a sealed file.
pub fn is_sealed(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 16];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n == head.len() && &head == MAGIC)
}

/// Reads a sealed file's plaintext, at any position ([`Seek`] is in plaintext bytes).
/// A frame that does not authenticate is an [`std::io::ErrorKind::InvalidData`] error.
pub struct SealedReader {
    file: File,
    chunks: ChunkCipher,
    frames: u64,
    plain_len: u64,
    pos: u64,
    /// The decrypted frame last read, and its number.
    current: Option<(u64, Vec<u8>)>,
}

impl SealedReader {
    pub fn open<K: AsRef<FileKey> + ?Sized>(path: &Path, key: &K) -> std::io::Result<SealedReader> {
        let key = key.as_ref();
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut header = [0u8; HEADER_LEN as usize];
        if len < HEADER_LEN + TAG_LEN as u64 {
            return Err(invalid(format!(
                "{} is not a sealed file or is cut short",
                path.display()
            )));
        }
        file.read_exact(&mut header)?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(invalid(format!("{} is not a sealed file", path.display())));
        }
        let key_id = &header[MAGIC.len()..MAGIC.len() + KEY_ID_LEN];
        if key_id != key.key_id().as_bytes() {
            return Err(invalid(format!(
                "{} was sealed with PII key {}, not the key in use ({})",
                path.display(),
                String::from_utf8_lossy(key_id),
                key.key_id()
            )));
        }
        let nonce: [u8; NONCE_LEN] = header[MAGIC.len() + KEY_ID_LEN..]
            .try_into()
            .map_err(|_| invalid("sealed header".into()))?;
        let body = len - HEADER_LEN;
        let frames = body.div_ceil(SEALED_FRAME);
        let last = body - (frames - 1) * SEALED_FRAME;
        if last < TAG_LEN as u64 {
            return Err(invalid(format!("{} is cut short", path.display())));
        }
        Ok(SealedReader {
            file,
            chunks: file_cipher(key, nonce),
            frames,
            plain_len: body - frames * TAG_LEN as u64,
            pos: 0,
            current: None,
        })
    }

    /// Length of the plaintext.
    pub fn plain_len(&self) -> u64 {
        self.plain_len
    }

    fn load(&mut self, index: u64) -> std::io::Result<()> {
        if self.current.as_ref().is_some_and(|(i, _)| *i == index) {
            return Ok(());
        }
        let last = index + 1 == self.frames;
        let size = if last {
            (self.plain_len - index * FRAME as u64) as usize + TAG_LEN
        } else {
            FRAME + TAG_LEN
        };
        let mut sealed = match self.current.take() {
            Some((_, mut v)) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(FRAME + TAG_LEN),
        };
        sealed.resize(size, 0);
        self.file
            .seek(SeekFrom::Start(HEADER_LEN + index * SEALED_FRAME))?;
        self.file.read_exact(&mut sealed)?;
        let plain = self.chunks.open(index, last, &sealed).ok_or_else(|| {
            invalid(format!(
                "sealed file damaged at frame {index} (altered, cut short or reordered)"
            ))
        })?;
        self.current = Some((index, plain));
        Ok(())
    }
}

impl Read for SealedReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() || self.pos >= self.plain_len {
            return Ok(0);
        }
        let index = self.pos / FRAME as u64;
        let offset = (self.pos % FRAME as u64) as usize;
        self.load(index)?;
        let frame = self
            .current
            .as_ref()
            .map(|(_, f)| f.as_slice())
            .unwrap_or(&[]);
        let n = out.len().min(frame.len().saturating_sub(offset));
        out[..n].copy_from_slice(&frame[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SealedReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.plain_len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// The id of the key `path` was sealed with, read from its header; `None` when the file
/// is not sealed (or too short to be).
pub fn sealed_key_id(path: &Path) -> std::io::Result<Option<String>> {
    let mut file = File::open(path)?;
    let mut header = [0u8; MAGIC.len() + KEY_ID_LEN];
    match file.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if &header[..MAGIC.len()] != MAGIC {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&header[MAGIC.len()..]).into_owned(),
    ))
}

/// Anything read from start to end or by seeking.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Open a file that may be sealed (by its first bytes) or plain (a user's own file given
/// to the command line), giving its plaintext either way.
pub fn open_maybe_sealed<K: AsRef<FileKey> + ?Sized>(
    path: &Path,
    key: &K,
) -> std::io::Result<Box<dyn ReadSeek>> {
    if is_sealed(path)? {
        Ok(Box::new(SealedReader::open(path, key)?))
    } else {
        Ok(Box::new(File::open(path)?))
    }
}

/// `path` with `.part` appended: where a file is written before it is renamed into place.
pub fn part_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".part");
    std::path::PathBuf::from(p)
}

/// Seal the plain file `from` into `to` (written whole beside `to`, then renamed into
/// place; `to` may be `from`, sealing it in place).
pub fn seal_file<K: AsRef<FileKey> + ?Sized>(
    from: &Path,
    to: &Path,
    key: &K,
) -> std::io::Result<u64> {
    let partial = part_path(to);
    let written = (|| {
        let mut input = File::open(from)?;
        let out = std::io::BufWriter::new(crate::private_files::create(&partial)?);
        let mut w = SealedWriter::new(key, out);
        let n = std::io::copy(&mut input, &mut w)?;
        w.finish()?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(n)
    })();
    match written {
        Ok(n) => {
            std::fs::rename(&partial, to)?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn sealed(key: &FileKey, plain: &[u8], dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut w = SealedWriter::new(key, File::create(&path).unwrap());
        // Odd-sized writes cross frame boundaries at every offset.
        for piece in plain.chunks(7_001) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap();
        path
    }

    fn read_all(path: &Path, key: &FileKey) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        SealedReader::open(path, key)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_every_size_around_frame_boundaries() {
        let key = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        for n in [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME + 5, 2 * FRAME] {
            let plain = data(n);
            let path = sealed(&key, &plain, dir.path(), &format!("f{n}"));
            assert!(is_sealed(&path).unwrap());
            let r = SealedReader::open(&path, &key).unwrap();
            assert_eq!(r.plain_len(), n as u64, "length of {n}");
            assert_eq!(read_all(&path, &key).unwrap(), plain, "size {n}");
            let frames = n.div_ceil(FRAME).max(1) as u64;
            let on_disk = std::fs::metadata(&path).unwrap().len();
            assert_eq!(on_disk, HEADER_LEN + n as u64 + frames * TAG_LEN as u64);
        }
    }

    #[test]
    fn plaintext_is_not_in_the_file() {
        let key = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        let plain = "客户名称,身份证号\n王小明,11010519491231002X\n".repeat(5000);
        let path = sealed(&key, plain.as_bytes(), dir.path(), "p");
        let bytes = std::fs::read(&path).unwrap();
        let needle = b"11010519491231002X";
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn seeks_anywhere_in_plaintext() {
        let key = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        let plain = data(3 * FRAME + 100);
        let path = sealed(&key, &plain, dir.path(), "s");
        let mut r = SealedReader::open(&path, &key).unwrap();
        for at in [
            FRAME as u64 * 2 + 3,
            5,
            FRAME as u64 - 2,
            3 * FRAME as u64 + 99,
        ] {
            r.seek(SeekFrom::Start(at)).unwrap();
            let mut buf = [0u8; 10];
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0);
            assert_eq!(&buf[..n], &plain[at as usize..at as usize + n]);
        }
        assert_eq!(r.seek(SeekFrom::End(-4)).unwrap(), plain.len() as u64 - 4);
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &plain[plain.len() - 4..]);
        assert_eq!(r.seek(SeekFrom::End(10)).unwrap(), plain.len() as u64 + 10);
        assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
        assert!(r
            .seek(SeekFrom::Current(-(plain.len() as i64) - 11))
            .is_err());
    }

    #[test]
    fn altered_cut_reordered_or_extended_files_do_not_read() {
        let key = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        let plain = data(3 * FRAME + 10);
        let path = sealed(&key, &plain, dir.path(), "a");
        let good = std::fs::read(&path).unwrap();
        let damaged = |bytes: Vec<u8>| {
            let p = dir.path().join("d");
            std::fs::write(&p, bytes).unwrap();
            let e = read_all(&p, &key).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        };
        let h = HEADER_LEN as usize;
        let sf = SEALED_FRAME as usize;
        // A changed byte in a frame, in the nonce.
        let mut b = good.clone();
        b[h + sf + 100] ^= 1;
        damaged(b);
        let mut b = good.clone();
        b[h - 1] ^= 1;
        damaged(b);
        // Cut at a frame boundary (the new last frame was not sealed as last), cut inside.
        damaged(good[..h + 2 * sf].to_vec());
        damaged(good[..good.len() - 3].to_vec());
        // Two frames swapped.
        let mut b = good.clone();
        b[h..h + sf].copy_from_slice(&good[h + sf..h + 2 * sf]);
        b[h + sf..h + 2 * sf].copy_from_slice(&good[h..h + sf]);
        damaged(b);
        // A frame repeated at the end.
        let mut b = good.clone();
        b.extend_from_slice(&good[h..h + sf]);
        damaged(b);
        // Header only, or shorter.
        damaged(good[..h].to_vec());
    }

    #[test]
    fn another_key_is_named_not_garbled() {
        let key = FileKey::random();
        let other = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        let path = sealed(&key, b"abc", dir.path(), "k");
        let e = read_all(&path, &other).unwrap_err().to_string();
        assert!(
            e.contains(key.key_id()) && e.contains(other.key_id()),
            "{e}"
        );
    }

    #[test]
    fn plain_files_open_as_they_are_and_seal_in_place() {
        let key = FileKey::random();
        let dir = tempfile::tempdir().unwrap();
        let plain = data(FRAME + 17);
        let p = dir.path().join("plain.csv");
        std::fs::write(&p, &plain).unwrap();
        assert!(!is_sealed(&p).unwrap());
        let read = |path: &Path| {
            let mut out = Vec::new();
            let mut r = open_maybe_sealed(path, &key).unwrap();
            r.read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(read(&p), plain);
        let s = dir.path().join("sealed.csv");
        assert_eq!(seal_file(&p, &s, &key).unwrap(), plain.len() as u64);
        assert_eq!(read(&s), plain);
        // An empty plain file is not sealed (too short for the magic).
        let e = dir.path().join("empty");
        std::fs::write(&e, b"").unwrap();
        assert!(!is_sealed(&e).unwrap());
    }
}
