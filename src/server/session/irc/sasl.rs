//! SASL before registration (IRCv3 sasl-3.1): `AUTHENTICATE PLAIN`, the response in base64
//! chunks, and the account it proves, which the client is signed in to as it registers.
//! Offered over TLS only; a wrong password counts against the address and the account.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::accounts::wait_text;
use super::Session;
use crate::core::{AccountError, Person};
use crate::proto::irc::sasl::{Plain, Response, SaslError, MECHANISMS};
use crate::proto::irc::{numeric::*, Cap, Message, Replies, Service, HOST, USER};
use crate::server::guesses::Checked;

/// A client's SASL exchange before registration.
#[derive(Default)]
pub(super) struct Sasl {
    /// The response being received, from `AUTHENTICATE PLAIN` until it is complete.
    response: Option<Response>,
    /// The id of the account the client proved it owns (not its nickname, which may be
    /// registered again by someone else before registration); signed in at registration.
    pub account: Option<Arc<str>>,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// `AUTHENTICATE mechanism`, then `AUTHENTICATE base64`... before registration. `nick`
    /// is the nickname the client asked for, if it did.
    pub(super) async fn authenticate(
        &mut self,
        message: &Message<'_>,
        sasl: &mut Sasl,
        nick: Option<&str>,
    ) {
        let Some(param) = message.param(0).filter(|param| !param.is_empty()) else {
            return self.numeric(
                "*",
                ERR_NEEDMOREPARAMS,
                &["AUTHENTICATE"],
                Some("Not enough parameters"),
            );
        };
        if !self.caps.has(Cap::Sasl) {
            let text = concat!(
                "SASL authentication failed: ",
                "SASL is offered over TLS (ircs://) only, after CAP REQ sasl"
            );
            return self.numeric("*", ERR_SASLFAIL, &[], Some(text));
        }
        if sasl.account.is_some() {
            return self.numeric(
                "*",
                ERR_SASLALREADY,
                &[],
                Some("You have already authenticated using SASL"),
            );
        }
        if param == "*" {
            sasl.response = None;
            return self.numeric("*", ERR_SASLABORTED, &[], Some("SASL authentication aborted"));
        }
        let Some(response) = sasl.response.as_mut() else {
            return self.start_sasl(param, sasl);
        };
        let received = response.push(param);
        if !matches!(received, Ok(None)) {
            sasl.response = None;
        }
        match received {
            Ok(None) => {}
            Ok(Some(bytes)) => self.check_plain(&bytes, sasl, nick.unwrap_or("*")).await,
            Err(SaslError::TooLong) => {
                self.numeric("*", ERR_SASLTOOLONG, &[], Some("SASL message too long"));
            }
            Err(error @ SaslError::Malformed) => self.sasl_failed(&error.to_string()),
        }
    }

    /// `AUTHENTICATE mechanism`: `AUTHENTICATE +` for `PLAIN`, else `908` and `904`.
    fn start_sasl(&mut self, mechanism: &str, sasl: &mut Sasl) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, "*");
        if mechanism.eq_ignore_ascii_case("PLAIN") {
            sasl.response = Some(Response::default());
            replies.command("AUTHENTICATE", &["+"], None);
        } else {
            replies.numeric(RPL_SASLMECHS, &[MECHANISMS], Some("are available SASL mechanisms"));
            replies.numeric(ERR_SASLFAIL, &[], Some("SASL authentication failed"));
        }
        self.send(replies);
    }

    /// Checks a complete `PLAIN` response: `900` and `903` for the right password, `904`
    /// otherwise. Nothing of the password is kept or logged.
    async fn check_plain(&mut self, response: &[u8], sasl: &mut Sasl, nick: &str) {
        let plain = match Plain::parse(response) {
            Ok(plain) => plain,
            Err(error) => return self.sasl_failed(&error.to_string()),
        };
        let account = crate::unicode::fold(plain.authcid);
        if !plain.authzid.is_empty() && crate::unicode::fold(plain.authzid) != account {
            return self
                .sasl_failed("you can only log in as yourself (authzid and authcid differ)");
        }
        let shared = self.shared();
        let (ip, account) = (self.link.ticket.peer.ip(), Arc::<str>::from(account));
        let checking = shared.chat.check_password(plain.authcid, plain.password);
        let (outcome, spent) = match shared.guesses.check(ip, &account, checking).await {
            Checked::Refused(wait) => {
                let text = format!("too many wrong passwords; try again {}", wait_text(wait));
                return self.sasl_failed(&text);
            }
            Checked::Done { outcome, spent } => (outcome, spent),
        };
        match outcome {
            Ok((id, name)) => {
                sasl.account = Some(id);
                let mut replies = Replies::new(&shared.config.server_name, "*");
                let mask = format!("{nick}!{USER}@{HOST}");
                let text = format!("You are now logged in as {name}");
                replies.numeric(RPL_LOGGEDIN, &[&mask, name.as_str()], Some(&text));
                replies.numeric(RPL_SASLSUCCESS, &[], Some("SASL authentication successful"));
                self.send(replies);
            }
            Err(AccountError::WrongPassword(name)) => {
                let mut text = format!("wrong password for {name}");
                if let Some(wait) = spent {
                    text.push_str(&format!(
                        "; too many wrong passwords: try again {}",
                        wait_text(wait)
                    ));
                }
                self.sasl_failed(&text);
            }
            Err(error) => self.sasl_failed(&error.to_string()),
        }
    }

    /// At registration, signs the client in to the account with id `account` that SASL
    /// proved. If it was dropped since, the client registers without an account, as
    /// after `906`: `901` takes back the `900` it was given, and `NickServ` says why.
    pub(super) async fn sign_in_after_sasl(&mut self, person: &Person, account: Arc<str>) {
        let me = person.nick();
        match self.shared().chat.sign_in(person, account).await {
            Ok(()) => {}
            Err(AccountError::Dropped(name)) => {
                let mask = format!("{me}!{USER}@{HOST}");
                self.numeric(me.as_str(), RPL_LOGGEDOUT, &[&mask], Some("You are now logged out"));
                let text = format!(
                    "The account {name} you logged in to with SASL was dropped before you \
                     registered: you are not identified."
                );
                self.service_notice(Service::NickServ, me.as_str(), &[&text]);
            }
            Err(error) => self.notice(me.as_str(), &error.to_string()),
        }
    }

    /// `904` with the reason.
    fn sasl_failed(&self, why: &str) {
        let text = format!("SASL authentication failed: {why}");
        self.numeric("*", ERR_SASLFAIL, &[], Some(&text));
    }

    /// Registration came while an exchange was under way: it is dropped (`906`), and the
    /// client registers without an account.
    pub(super) fn abort_sasl(&self, sasl: &mut Sasl) {
        if sasl.response.take().is_some() {
            self.numeric("*", ERR_SASLABORTED, &[], Some("SASL authentication aborted"));
        }
    }

    /// `AUTHENTICATE` once registered: `907` if already logged in, else `904` (SASL is
    /// for registration; `NickServ IDENTIFY` is for afterwards).
    pub(super) fn authenticate_late(&self, person: &Person, me: &str) {
        if self.shared().chat.is_identified(person) {
            let text = "You have already authenticated";
            return self.numeric(me, ERR_SASLALREADY, &[], Some(text));
        }
        let text = concat!(
            "SASL authentication failed: SASL comes before registration; ",
            "now /msg NickServ IDENTIFY password"
        );
        self.numeric(me, ERR_SASLFAIL, &[], Some(text));
    }
}
