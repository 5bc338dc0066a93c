//! The letterhead a tenant's documents carry: sender lines, footer and an optional logo.

use super::*;

/// The head of every document a tenant gets: who sends it, and the company's logo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Letterhead {
    /// The sender block, one line each (1 to 6): company, street, town, …
    pub sender: Vec<String>,
    /// A PNG or JPEG logo, base64-encoded (at most 40 KiB decoded), shown top right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// The largest logo accepted (decoded): a letterhead logo is a few kilobytes, and its base64
/// must fit the register's 64 KiB request body.
pub const MAX_LOGO: usize = 40 * 1024;

impl Letterhead {
    pub(super) fn validated(&self) -> Result<Self> {
        if self.sender.is_empty() || self.sender.len() > 6 {
            return Err(Error::invalid("sender", "needs 1 to 6 lines"));
        }
        let sender = self
            .sender
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let line = text(&format!("sender[{i}]"), l, true)?;
                if line.contains('\n') || line.chars().count() > 120 {
                    return Err(Error::invalid(
                        format!("sender[{i}]"),
                        "must be one line of at most 120 characters",
                    ));
                }
                Ok(line)
            })
            .collect::<Result<Vec<_>>>()?;
        if self.logo.is_some() {
            let bytes = self
                .logo_bytes()
                .ok_or_else(|| Error::invalid("logo", "must be base64 (standard alphabet)"))?;
            crate::documents::check_logo(&bytes, MAX_LOGO)?;
        }
        Ok(Self {
            sender,
            logo: self.logo.clone(),
        })
    }

    /// The logo's bytes.
    pub fn logo_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let logo = self.logo.as_deref()?;
        base64::engine::general_purpose::STANDARD
            .decode(logo.trim())
            .ok()
    }

    /// As the document layer draws it.
    pub fn for_documents(&self) -> crate::documents::Letterhead {
        crate::documents::Letterhead {
            sender: self.sender.clone(),
            logo: self.logo_bytes(),
        }
    }
}
