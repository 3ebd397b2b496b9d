//! How the command line prints an error: its message and its causes, each
//! said once.
//!
//! Many errors include their cause's text in their own message and also
//! return it as their `source`, so a plain walk down the chain repeats it
//! ("cannot listen on …: address in use: address in use").

/// The message of `error` and of its causes, joined with `: `, leaving out a
/// cause whose text is already part of what comes before it.
pub fn report(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if message.is_empty() || text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:1 (`listen`): {source}")]
    struct Listen {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_says_is_said_once() {
        let error = anyhow::Error::new(Listen {
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use"),
        });
        assert_eq!(
            report(&error),
            "cannot listen on 127.0.0.1:1 (`listen`): address in use"
        );
    }

    #[test]
    fn causes_not_yet_said_are_appended() {
        let error = anyhow::anyhow!("disk full").context("cannot write rotor.toml");
        assert_eq!(report(&error), "cannot write rotor.toml: disk full");
    }
}
