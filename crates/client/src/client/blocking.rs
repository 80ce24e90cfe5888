//! [`Client`]: the same operations as [`AsyncClient`], blocking.

use async_io::block_on;

use super::{AsyncClient, Options, Scope, Slice, Started, Stats, Target};
use crate::error::Result;
use crate::resources::{CgroupMode, PropertyPlan, PropertyValue, Resources, Skipped};

/// The systemd cgroup client, blocking: each method runs the [`AsyncClient`] operation of
/// the same name to completion on the calling thread (`async_io::block_on`), so both share
/// one implementation, one connection and the same deadlines. `Send + Sync`: share it
/// between threads. Do not call it from inside an async task (it would block a worker);
/// use [`Client::as_async`] or an [`AsyncClient`] there.
#[derive(Debug)]
pub struct Client {
    inner: AsyncClient,
}

impl Client {
    /// A client for `target`. Connects lazily, on the first operation.
    pub fn new(target: Target, opts: Options) -> Client {
        Client {
            inner: AsyncClient::new(target, opts),
        }
    }

    /// A client connected now (so connection errors surface here).
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::connect`].
    pub fn connect(target: Target, opts: Options) -> Result<Client> {
        let c = Client::new(target, opts);
        block_on(c.inner.bounded(None, c.inner.session()))?;
        Ok(c)
    }

    /// The async client underneath (same connection, same counters).
    pub fn as_async(&self) -> &AsyncClient {
        &self.inner
    }

    /// The async client underneath, by value.
    pub fn into_async(self) -> AsyncClient {
        self.inner
    }

    /// The options the client was made with.
    pub fn options(&self) -> &Options {
        self.inner.options()
    }

    /// The cgroup mode used for property names.
    pub fn cgroup_mode(&self) -> CgroupMode {
        self.inner.cgroup_mode()
    }

    /// systemd's version (read once per connection).
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::version`].
    pub fn version(&self) -> Result<u32> {
        block_on(self.inner.version())
    }

    /// See [`AsyncClient::capabilities`].
    ///
    /// # Errors
    ///
    /// Connecting fails ([`Error::Connect`](crate::Error::Connect)).
    pub fn capabilities(&self) -> Result<crate::releases::Capabilities> {
        block_on(self.inner.capabilities())
    }

    /// See [`AsyncClient::scope_properties`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::scope_properties`].
    pub fn scope_properties(
        &self,
        scope: &Scope,
        caps: &crate::releases::Capabilities,
    ) -> Result<PropertyPlan> {
        self.inner.scope_properties(scope, caps)
    }

    /// See [`AsyncClient::start_scope`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::start_scope`].
    pub fn start_scope(&self, scope: &Scope) -> Result<Started> {
        block_on(self.inner.start_scope(scope))
    }

    /// See [`AsyncClient::start_slice`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::start_slice`].
    pub fn start_slice(&self, slice: &Slice) -> Result<Started> {
        block_on(self.inner.start_slice(slice))
    }

    /// See [`AsyncClient::set_resources`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::set_resources`].
    pub fn set_resources(&self, unit: &str, resources: &Resources) -> Result<Vec<Skipped>> {
        block_on(self.inner.set_resources(unit, resources))
    }

    /// See [`AsyncClient::attach`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::attach`].
    pub fn attach(&self, unit: &str, pids: &[u32]) -> Result<()> {
        block_on(self.inner.attach(unit, pids))
    }

    /// See [`AsyncClient::freeze`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::freeze`].
    pub fn freeze(&self, unit: &str) -> Result<()> {
        block_on(self.inner.freeze(unit))
    }

    /// See [`AsyncClient::thaw`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::thaw`].
    pub fn thaw(&self, unit: &str) -> Result<()> {
        block_on(self.inner.thaw(unit))
    }

    /// See [`AsyncClient::kill`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::kill`].
    pub fn kill(&self, unit: &str, signal: i32) -> Result<()> {
        block_on(self.inner.kill(unit, signal))
    }

    /// See [`AsyncClient::stop`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::stop`].
    pub fn stop(&self, unit: &str) -> Result<()> {
        block_on(self.inner.stop(unit))
    }

    /// See [`AsyncClient::reset_failed`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::reset_failed`].
    pub fn reset_failed(&self, unit: &str) -> Result<()> {
        block_on(self.inner.reset_failed(unit))
    }

    /// See [`AsyncClient::unit_path`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::unit_path`].
    pub fn unit_path(&self, unit: &str) -> Result<Option<String>> {
        block_on(self.inner.unit_path(unit))
    }

    /// See [`AsyncClient::unit_property`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::unit_property`].
    pub fn unit_property(&self, unit: &str, interface: &str, name: &str) -> Result<PropertyValue> {
        block_on(self.inner.unit_property(unit, interface, name))
    }

    /// See [`AsyncClient::cgroup_property`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::cgroup_property`].
    pub fn cgroup_property(&self, unit: &str, name: &str) -> Result<PropertyValue> {
        block_on(self.inner.cgroup_property(unit, name))
    }

    /// See [`AsyncClient::control_group`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::control_group`].
    pub fn control_group(&self, unit: &str) -> Result<String> {
        block_on(self.inner.control_group(unit))
    }

    /// See [`AsyncClient::unit_state`].
    ///
    /// # Errors
    ///
    /// As [`AsyncClient::unit_state`].
    pub fn unit_state(&self, unit: &str, name: &str) -> Result<String> {
        block_on(self.inner.unit_state(unit, name))
    }

    /// Closes the connection now (the next operation reconnects).
    pub fn disconnect(&self) {
        self.inner.disconnect()
    }

    /// Health: connection, cookies both ways, reply checks.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }
}

impl From<AsyncClient> for Client {
    fn from(inner: AsyncClient) -> Client {
        Client { inner }
    }
}
