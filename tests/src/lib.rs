//! The end-to-end harness: a fresh PostgreSQL database and a unique RabbitMQ prefix per test, the
//! services started in-process through their `run(listener, config, shutdown)` entry points on
//! random 127.0.0.1 ports, a fake webhook receiver and a worker that speaks the wire format.

pub mod env;
pub mod events;
pub mod fake_server;
pub mod live;
pub mod private_servers;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod service;
pub mod stack;
pub mod wait;
pub mod worker;

pub use env::TestEnv;
pub use receiver::Receiver;
pub use service::Running;
pub use stack::Stack;
pub use wait::wait_until;
