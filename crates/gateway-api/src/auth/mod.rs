pub mod login_limit;
pub mod password;
pub mod token;
pub mod user;

pub use user::{AuthUser, Role};
