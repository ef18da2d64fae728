#pragma once
/// Address take-over: moving a host's uplink address and routes from a NIC (ens33)
/// onto a bridge (br0) that gets the NIC as a port, the step that turns the NAT
/// picture into the bridge picture. Done wrong half-way it cuts the host off, so it
/// records how to go back first, checks the gateway afterwards and rolls back by
/// itself when the gateway is lost.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "virtform/adapters/netlink/client.h"
#include "virtform/adapters/netlink/types.h"
#include "virtform/error.h"

namespace virtform::netlink {

struct TakeOverOptions {
    /// How long the gateway has to answer through the bridge.
    std::chrono::milliseconds timeout{5000};
    /// The address to check; by default the gateway of the moved default route
    /// (IPv4 first), else of any moved route. No gateway at all: no check.
    std::optional<std::string> gateway;
    /// Accept the gateway's neighbour entry turning REACHABLE (it answered ARP/ND)
    /// as well as an ICMP echo reply.
    bool accept_neighbour = true;
    /// For experts: leave the take-over in place even when the gateway does not
    /// answer or a step fails (the report says so).
    bool no_rollback = false;
};

/// What was there before: enough to put it back (revert_take_over()).
struct TakeOverRecord {
    std::string port;
    std::string bridge;
    std::vector<Address> addresses;  ///< the port's global addresses
    std::vector<Route> routes;       ///< main-table routes out of the port (not proto kernel)
    std::vector<Address> bridge_addresses;  ///< the bridge's global addresses before
    bool port_was_enslaved = false;         ///< the port was already a port of the bridge
    bool bridge_was_up = false;
};

struct TakeOverReport {
    TakeOverRecord original;
    std::vector<Address> moved_addresses;
    std::vector<Route> moved_routes;  ///< as they now are, on the bridge
    std::string gateway;              ///< the address checked, "" when none was
    bool gateway_checked = false;
    bool gateway_reachable = false;  ///< false only with no_rollback (else it throws)
    /// From enslaving the port until every route was on the bridge: the window in
    /// which traffic depends on the half-moved state.
    std::chrono::microseconds switch_time{0};
    /// With no_rollback: the error or unreachable gateway that was left in place.
    std::string problem;
};

/// The take-over failed (a step failed or the gateway did not answer) and was rolled
/// back: the port again holds exactly its recorded addresses and routes.
/// what() reads "take over addresses ens33: <why>; rolled back: ...".
class TakeOverRolledBack : public AdapterError {
  public:
    TakeOverRolledBack(const std::string& port, std::string reason, TakeOverRecord record);
    const std::string& reason() const { return reason_; }
    const TakeOverRecord& record() const { return record_; }

  private:
    std::string reason_;
    TakeOverRecord record_;
};

/// Moves every global address of `port` and every main-table route out of `port`
/// onto `bridge` and enslaves `port` to it. Order (the host stays reachable at every
/// step): bring the bridge up; add the addresses to the bridge as well (the same
/// address on two devices is allowed; IPv6 with NODAD); enslave the port (from now on
/// its traffic arrives through the bridge, which holds the addresses); move the
/// routes, default route first, with NLM_F_REPLACE (one atomic swap each for IPv4);
/// delete the addresses from the port. Then it checks the gateway through the bridge.
///
/// Preconditions (checked before anything changes): both devices exist, `bridge` is
/// a bridge, `port` is not enslaved to another master (the error names it).
/// Throws TakeOverRolledBack when it rolled back, AdapterError when a precondition
/// failed (nothing changed) or when the rollback itself failed (the message lists
/// the recorded state to restore by hand).
TakeOverReport take_over_addresses(Client& client, const std::string& port,
                                   const std::string& bridge, const TakeOverOptions& options = {});

/// Puts a recorded take-over back: the addresses and routes onto the port, the port
/// out of the bridge (unless it was a port before), the bridge's added addresses
/// removed. Verifies the port's addresses and routes equal the record; throws
/// AdapterError listing every difference or failed step otherwise.
void revert_take_over(Client& client, const TakeOverRecord& record);

}  // namespace virtform::netlink
