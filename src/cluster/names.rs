//! Names unique across the cluster: one holder per name under folding, and no two names
//! held at once that look alike, whichever servers their holders are on.
//!
//! Two hashes hold it all: the fold of each name held to its holder (owner, skeleton and
//! how the name is shown), and each skeleton to the fold that has it. Every change is one
//! Lua script (in `lua/`), so it is atomic: of any number of claims for one name, on any
//! number of servers, exactly one wins. A name lives as long as its server's lease: a
//! claim takes a name whose server's lease is gone as if it were free, and [`Names::sweep`]
//! hands the names of such servers out once, to be announced as gone.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, Script};
use thiserror::Error;

use super::{ClusterError, Owner, ServerId};
use crate::core::ClientId;

/// How long a server's names outlive its last heartbeat, unless told otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// Why a name could not be had.
#[derive(Debug, Error)]
pub enum ClaimError {
    /// Someone on a live server holds the same name (under folding).
    #[error("the name is taken by {holder}")]
    Taken {
        /// The name as its holder shows it.
        holder: String,
    },
    /// Someone on a live server holds a name that looks like it.
    #[error("the name looks too much like {holder}, who is online")]
    LooksLike {
        /// The name it looks like, as its holder shows it.
        holder: String,
    },
    /// The cluster could not decide.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Who holds a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The name as its holder shows it.
    pub display: String,
    /// The holder.
    pub owner: Owner,
}

/// One server's handle on the cluster's names: cheap to clone, one per server.
#[derive(Clone)]
pub struct Names {
    /// The connection to Redis, shared by every clone.
    redis: ConnectionManager,
    /// This server; its lease keeps its clients' names.
    server: ServerId,
    /// How long the lease lasts after each heartbeat.
    lease: Duration,
}

/// Declares a script: the helpers every script shares, then its own code.
macro_rules! script {
    ($name:ident, $file:literal) => {
        static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/common.lua"), include_str!($file)))
        });
    };
}

script!(REGISTER, "lua/register.lua");
script!(CLAIM, "lua/claim.lua");
script!(RENAME, "lua/rename.lua");
script!(RELEASE, "lua/release.lua");
script!(FIND, "lua/find.lua");
script!(SWEEP, "lua/sweep.lua");

impl Names {
    /// Registers `server` in the cluster with a lease of `lease` (renewed by
    /// [`Names::heartbeat`]). Names left under the same id by an earlier run are taken
    /// away, and returned by the next [`Names::sweep`]. Fails with
    /// [`ClusterError::ServerIdInUse`] while another process holds the id's lease.
    pub async fn register(
        redis: ConnectionManager,
        server: ServerId,
        lease: Duration,
    ) -> Result<Names, ClusterError> {
        let names = Names { redis, server, lease };
        let registered: bool =
            names.run(REGISTER.arg(names.server.as_str()).arg(names.lease_ms())).await?;
        if !registered {
            return Err(ClusterError::ServerIdInUse(names.server));
        }
        Ok(names)
    }

    /// This server.
    pub fn server(&self) -> &ServerId {
        &self.server
    }

    /// How long this server's names outlive its last heartbeat.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The owner that is `client` of this server.
    pub fn owner(&self, client: ClientId) -> Owner {
        Owner { server: self.server.clone(), client }
    }

    /// Renews this server's lease; call it well within the lease (a third of it, say).
    /// [`ClusterError::LeaseLost`] when it had already expired.
    pub async fn heartbeat(&self) -> Result<(), ClusterError> {
        let key = format!("{}server:{}", super::PREFIX, self.server);
        let mut redis = self.redis.clone();
        let renewed: bool =
            redis::cmd("PEXPIRE").arg(key).arg(self.lease_ms()).query_async(&mut redis).await?;
        renewed.then_some(()).ok_or_else(|| ClusterError::LeaseLost(self.server.clone()))
    }

    /// Gives the name with `fold` and `skeleton` (see [`crate::unicode`]) to `owner`,
    /// shown as `display`, unless someone else holds it or one that looks like it. Claiming
    /// a name the owner already holds succeeds (and updates `display`), so a claim that
    /// failed with [`ClusterError::Timeout`] may be retried.
    pub async fn claim(
        &self,
        fold: &str,
        skeleton: &str,
        display: &str,
        owner: &Owner,
    ) -> Result<(), ClaimError> {
        check_skeleton(skeleton)?;
        let owner_text = owner.to_string();
        let answer: Vec<String> =
            self.run(CLAIM.arg(fold).arg(skeleton).arg(display).arg(owner_text)).await?;
        decide(&answer, owner)
    }

    /// Moves `owner` from the name `old_fold` to the one with `new_fold` and
    /// `new_skeleton`, shown as `display`, in one step: nobody sees both held or neither.
    /// The new name may look like the old one. If the owner no longer holds the old name,
    /// this is a [`Names::claim`] of the new one.
    pub async fn rename(
        &self,
        old_fold: &str,
        new_fold: &str,
        new_skeleton: &str,
        display: &str,
        owner: &Owner,
    ) -> Result<(), ClaimError> {
        check_skeleton(new_skeleton)?;
        let mut invocation = RENAME.arg(old_fold);
        invocation.arg(new_fold).arg(new_skeleton).arg(display).arg(owner.to_string());
        let answer: Vec<String> = self.run(&invocation).await?;
        decide(&answer, owner)
    }

    /// Frees the name with `fold` if `owner` holds it; whether it did.
    pub async fn release(&self, fold: &str, owner: &Owner) -> Result<bool, ClusterError> {
        self.run(RELEASE.arg(fold).arg(owner.to_string())).await
    }

    /// Who holds the name with `fold`, if anyone on a live server does.
    pub async fn find(&self, fold: &str) -> Result<Option<Holder>, ClusterError> {
        let found: Vec<String> = self.run(&FIND.arg(fold)).await?;
        match found.as_slice() {
            [] => Ok(None),
            [display, owner] => Ok(Some(holder(display, owner)?)),
            _ => Err(unexpected("find", &found)),
        }
    }

    /// Takes away every name of a server whose lease is gone, and returns them with any
    /// taken from such servers by claims since the last sweep, so that the caller can
    /// announce their holders as gone. Each name is returned by one sweep only, whichever
    /// server runs it.
    pub async fn sweep(&self) -> Result<Vec<Holder>, ClusterError> {
        let found: Vec<String> = self.run(&SWEEP.prepare_invoke()).await?;
        if !found.len().is_multiple_of(2) {
            return Err(unexpected("sweep", &found));
        }
        found.chunks_exact(2).map(|pair| holder(&pair[0], &pair[1])).collect()
    }

    /// Runs a script on this server's connection.
    async fn run<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, ClusterError> {
        let mut redis = self.redis.clone();
        Ok(invocation.invoke_async(&mut redis).await?)
    }

    /// The lease in milliseconds, as Redis takes it (at least one).
    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX).max(1)
    }
}

/// What a claim or a rename's script answered, as its result.
fn decide(answer: &[String], owner: &Owner) -> Result<(), ClaimError> {
    match answer {
        [ok] if ok == "ok" => Ok(()),
        [taken, holder] if taken == "taken" => Err(ClaimError::Taken { holder: holder.clone() }),
        [looks, holder] if looks == "looks" => {
            Err(ClaimError::LooksLike { holder: holder.clone() })
        }
        [lease] if lease == "lease" => Err(ClusterError::LeaseLost(owner.server.clone()).into()),
        _ => Err(unexpected("claim", answer).into()),
    }
}

/// A holder as a script returns it.
fn holder(display: &str, owner: &str) -> Result<Holder, ClusterError> {
    Ok(Holder { display: display.to_string(), owner: Owner::parse(owner)? })
}

/// Refuses a skeleton that would break the encoding of the names hash.
fn check_skeleton(skeleton: &str) -> Result<(), ClusterError> {
    match skeleton.contains('\n') {
        true => Err(ClusterError::BadKey(skeleton.to_string())),
        false => Ok(()),
    }
}

/// The error for an answer of `script` that it never gives.
fn unexpected(script: &str, answer: &[String]) -> ClusterError {
    ClusterError::Unexpected(format!("the {script} script answered {answer:?}"))
}
