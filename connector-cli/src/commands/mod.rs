//! One module per command; each reads the context, calls `connector-core` and prints.

mod audit;
mod bench;
mod credentials;
mod demo;
mod dry_run;
mod init;
mod mapping;
mod ping;
mod reconcile;
mod reference;
mod run;
mod status;
mod sync;

use crate::cli::{AuditCommand, Command, MappingCommand};
use crate::context::Context;

/// Runs `command`.
pub async fn run(ctx: &Context, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Init(args) => init::init(ctx, args),
        Command::Keygen => init::keygen(ctx),
        Command::Credentials(command) => credentials::run(ctx, command).await,
        Command::Ping(args) => ping::ping(ctx, args.connection.as_deref()).await,
        Command::Mapping(MappingCommand::Check(args)) => {
            mapping::check(ctx, args.connection.as_deref()).await
        }
        Command::Status => status::status(ctx).await,
        Command::Audit(AuditCommand::List(args)) => audit::list(ctx, args).await,
        Command::Audit(AuditCommand::Show { record }) => audit::show(ctx, record).await,
        Command::Sync(args) if args.dry_run => {
            dry_run::dry_run(ctx, args.connection.as_deref()).await
        }
        Command::Sync(args) => sync::sync(ctx, args).await,
        Command::Replay(args) => sync::replay(ctx, args).await,
        Command::Demo(args) => demo::demo(ctx, args).await,
        Command::Run(args) => run::run(ctx, args).await,
        Command::Bench(args) => bench::bench(ctx, args).await,
        Command::Reconcile(args) => reconcile::reconcile(ctx, args).await,
    }
}
