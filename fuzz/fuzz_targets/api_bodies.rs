#![no_main]
//! The API's request bodies, as the handlers parse and validate them: a message, a batch, a
//! retention rule set, a legal hold. The first byte picks the body; the rest is the JSON.
//! Never a panic: only a value or an error for the caller.
use hafen::http::messages::MessageBatch;
use hafen::messages::{MessageInput, NewMessage};
use hafen::retention::holds::HoldInput;
use hafen::retention::rules::{RuleInput, RuleSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
    match which % 4 {
        0 => {
            if let Ok(m) = serde_json::from_slice::<MessageInput>(body) {
                let _ = NewMessage::parse(m, "", now);
            }
        }
        1 => {
            if let Ok(batch) = serde_json::from_slice::<MessageBatch>(body) {
                for m in batch.messages {
                    let _ = NewMessage::parse(m, "messages[0].", now);
                }
            }
        }
        2 => {
            if let Ok(rules) = serde_json::from_slice::<Vec<RuleInput>>(body) {
                let _ = RuleSet::parse(&rules);
            }
        }
        _ => {
            if let Ok(hold) = serde_json::from_slice::<HoldInput>(body) {
                let _ = hold.validate(now);
            }
        }
    }
});
