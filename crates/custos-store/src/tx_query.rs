//! The one macro through which every repository file runs SQL on a transaction of
//! either backend. It stands alone so that the transaction code and the repositories can
//! all use it without importing each other.

/// Run one query expression against whichever backend a transaction is on. The body is
/// compiled once per backend, so the same SQL serves both. A write still in flight is
/// waited for first (queries run in the order they were asked).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx.settle().await {
            Err(e) => Err(e),
            Ok(()) => match &mut $tx.conn {
                $crate::TxConn::Sqlite(t) => {
                    let $c = &mut **t;
                    $body
                }
                $crate::TxConn::Pg(t) => {
                    let $c = &mut **t;
                    $body
                }
                $crate::TxConn::Lent => Err($crate::TxConn::lent()),
            },
        }
    };
}
