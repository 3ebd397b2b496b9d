//! An interceptor: refuses publish and RPC calls of anonymous users (an
//! empty user id) with `103 permission denied`, and passes every other call
//! on to the next step.

use rotor_sdk::{CallContext, Decision, Denial, Interceptor, Request};

struct Guard;

impl Interceptor for Guard {
    fn before(_context: &CallContext, request: Request) -> Decision {
        let user = match &request {
            Request::Publish(publish) => &publish.user,
            Request::Rpc(rpc) => &rpc.user,
            _ => return Decision::Pass,
        };
        if user.is_empty() {
            Denial::permission_denied().into()
        } else {
            Decision::Pass
        }
    }
}

rotor_sdk::export_interceptor!(Guard);
