//! `--drop-response N[,M…]`: lost answers over the real network stack (issue 15).
//!
//! [`Lossy`] wraps the TCP client the firmware's transport connects with. Every
//! request goes out untouched; of the successful answers (`HTTP/1.1 200`), counted
//! from 1 over the run, the ones listed are cut off once their status line has
//! arrived: the server has committed and answered, and the device sees only a
//! broken connection, exactly what a Wi-Fi drop or a reset right after the send
//! does. The flow must then retry with the credential it still holds (the same
//! device code, the same refresh token), which the server's retry window honours.
//! Answers other than 200 (`authorization_pending` polls) are never cut, so the
//! count follows the steps that matter: device authorization, the redeeming poll,
//! each refresh.

use core::cell::Cell;
use core::net::SocketAddr;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::TcpConnect;

/// Length of `HTTP/1.1 200`, the part of an answer that tells a success.
const STATUS_LINE: usize = 12;

/// A TCP client that cuts off the listed successful answers.
pub struct Lossy<'d, T> {
    inner: T,
    /// Ordinals (1-based) of the 200 answers to cut off.
    drop: &'d [u32],
    /// 200 answers seen so far.
    seen: Cell<u32>,
}

impl<'d, T> Lossy<'d, T> {
    /// Wraps `inner`, cutting off the 200 answers numbered in `drop`.
    pub fn new(inner: T, drop: &'d [u32]) -> Self {
        Lossy {
            inner,
            drop,
            seen: Cell::new(0),
        }
    }
}

/// Parses `N[,M…]` (the answers to cut off).
pub fn parse(value: &str) -> Result<Vec<u32>, String> {
    value
        .split(',')
        .map(|n| match n.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "--drop-response wants N[,M…] counted from 1, got {value}"
            )),
        })
        .collect()
}

/// An error of the wrapped connection, or an answer cut off on purpose.
#[derive(Debug)]
pub enum LossyError<E> {
    /// The real connection failed.
    Inner(E),
    /// This answer was cut off.
    Dropped,
}

impl<E: core::fmt::Debug> core::fmt::Display for LossyError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LossyError::Inner(e) => write!(f, "{e:?}"),
            LossyError::Dropped => f.write_str("answer dropped (--drop-response)"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for LossyError<E> {}

impl<E: embedded_io_async::Error> embedded_io_async::Error for LossyError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            LossyError::Inner(e) => e.kind(),
            LossyError::Dropped => ErrorKind::ConnectionReset,
        }
    }
}

/// One connection: it watches the first bytes of the answer for the status.
pub struct Conn<'c, C> {
    inner: C,
    drop: &'c [u32],
    seen: &'c Cell<u32>,
    /// The answer's first bytes, until the status line is known.
    head: Vec<u8>,
    /// Decided: cut off (`Some(true)`) or passed on (`Some(false)`).
    cut: Option<bool>,
}

impl<T: TcpConnect> TcpConnect for Lossy<'_, T> {
    type Error = LossyError<T::Error>;
    type Connection<'a>
        = Conn<'a, T::Connection<'a>>
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let inner = self
            .inner
            .connect(remote)
            .await
            .map_err(LossyError::Inner)?;
        Ok(Conn {
            inner,
            drop: self.drop,
            seen: &self.seen,
            head: Vec::with_capacity(STATUS_LINE),
            cut: None,
        })
    }
}

impl<C: ErrorType> ErrorType for Conn<'_, C> {
    type Error = LossyError<C::Error>;
}

impl<C: Read> Read for Conn<'_, C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.cut == Some(true) {
            return Err(LossyError::Dropped);
        }
        let n = self.inner.read(buf).await.map_err(LossyError::Inner)?;
        if self.cut.is_none() {
            let want = STATUS_LINE - self.head.len();
            self.head.extend_from_slice(&buf[..n.min(want)]);
            if self.head.len() == STATUS_LINE || n == 0 {
                let ok = self.head.ends_with(b" 200");
                if ok {
                    self.seen.set(self.seen.get() + 1);
                }
                let cut = ok && self.drop.contains(&self.seen.get());
                self.cut = Some(cut);
                if cut {
                    println!("lossy: dropped answer {} (a 200)", self.seen.get());
                    return Err(LossyError::Dropped);
                }
            }
        }
        Ok(n)
    }
}

impl<C: Write> Write for Conn<'_, C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.inner.write(buf).await.map_err(LossyError::Inner)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await.map_err(LossyError::Inner)
    }
}
