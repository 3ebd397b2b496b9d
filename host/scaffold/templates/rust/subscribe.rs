//! Answers Centrifugo's subscribe calls: users may subscribe to their own
//! channel, `user:<id>`, and to nothing else (`103 permission denied`).

use rotor_sdk::{Denial, Subscribe, SubscribeRequest, SubscribeResult};

struct Acl;

impl Subscribe for Acl {
    fn subscribe(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        if request.channel == format!("user:{}", request.user) {
            Ok(SubscribeResult::default())
        } else {
            Err(Denial::permission_denied())
        }
    }
}

rotor_sdk::export_subscribe!(Acl);
