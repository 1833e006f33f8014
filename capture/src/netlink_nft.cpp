// NetlinkOps over libnftnl + libmnl. Everything nftables-specific lives in this file.

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>

#include "bulwark/capture/ops.h"

namespace bulwark::capture {
namespace {

template <auto Free> struct Deleter {
  template <class T> void operator()(T* p) const { Free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule_free>>;
using ExprIterPtr =
    std::unique_ptr<nftnl_expr_iter, Deleter<nftnl_expr_iter_destroy>>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, Deleter<nftnl_udata_buf_free>>;

constexpr int kReplyTimeoutMs = 2000;
constexpr size_t kBatchBytes = 1 << 20; // far above any plan (a rule is ~300 bytes)

std::error_code lastErrno() { return errnoCode(errno); }

const char* hookName(uint32_t hook) {
  switch (hook) {
  case NF_INET_PRE_ROUTING:
    return "prerouting";
  case NF_INET_LOCAL_IN:
    return "input";
  case NF_INET_FORWARD:
    return "forward";
  case NF_INET_LOCAL_OUT:
    return "output";
  case NF_INET_POST_ROUTING:
    return "postrouting";
  default:
    return "unknown";
  }
}

uint32_t hookNum(std::string_view name) {
  return name == "output" ? NF_INET_LOCAL_OUT : NF_INET_PRE_ROUTING;
}

// ---- building expressions ---------------------------------------------------------------------

void addExpr(nftnl_rule* r, nftnl_expr* e) { nftnl_rule_add_expr(r, e); }

void addMetaCmp(nftnl_rule* r, uint32_t key, const void* data, uint32_t len) {
  nftnl_expr* m = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(m, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(m, NFTNL_EXPR_META_DREG, NFT_REG_1);
  addExpr(r, m);
  nftnl_expr* c = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(c, NFTNL_EXPR_CMP_DATA, data, len);
  addExpr(r, c);
}

void addPayloadCmp(nftnl_rule* r, uint32_t base, uint32_t offset, const uint8_t* data,
                   uint32_t len, uint32_t prefixBits) {
  nftnl_expr* p = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, len);
  addExpr(r, p);
  if (prefixBits < len * 8) {
    uint8_t mask[16] = {};
    uint8_t zero[16] = {};
    for (uint32_t i = 0; i < len; ++i) {
      const uint32_t keep = prefixBits > i * 8 ? std::min(8u, prefixBits - i * 8) : 0;
      mask[i] = static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    }
    nftnl_expr* b = nftnl_expr_alloc("bitwise");
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, zero, len);
    addExpr(r, b);
  }
  nftnl_expr* c = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(c, NFTNL_EXPR_CMP_DATA, data, len);
  addExpr(r, c);
}

void addAddr(nftnl_rule* r, const Cidr& c, bool source) {
  const bool v4 = c.family == Family::V4;
  const uint32_t offset = v4 ? (source ? 12 : 16) : (source ? 8 : 24);
  addPayloadCmp(r, NFT_PAYLOAD_NETWORK_HEADER, offset, c.addr.data(),
                static_cast<uint32_t>(c.addrLen()), c.prefix);
}

RulePtr buildRule(std::string_view table, const std::string& chain, const NftRule& spec) {
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, std::string(table).c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  if (spec.iifname) {
    char name[IFNAMSIZ] = {};
    std::strncpy(name, spec.iifname->c_str(), IFNAMSIZ - 1);
    addMetaCmp(r.get(), NFT_META_IIFNAME, name, IFNAMSIZ);
  }
  if (spec.nfproto) {
    const uint8_t proto = *spec.nfproto == Family::V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    addMetaCmp(r.get(), NFT_META_NFPROTO, &proto, 1);
  }
  if (spec.saddr) {
    addAddr(r.get(), *spec.saddr, true);
  }
  if (spec.daddr) {
    addAddr(r.get(), *spec.daddr, false);
  }
  if (spec.tcp) {
    const uint8_t tcp = IPPROTO_TCP;
    addMetaCmp(r.get(), NFT_META_L4PROTO, &tcp, 1);
  }
  if (spec.dport) {
    const uint16_t port = htons(*spec.dport);
    addPayloadCmp(r.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2,
                  reinterpret_cast<const uint8_t*>(&port), 2, 16);
  }
  if (spec.skuid) {
    const uint32_t uid = *spec.skuid;
    addMetaCmp(r.get(), NFT_META_SKUID, &uid, 4);
  }
  if (spec.verdict == NftVerdict::Return) {
    nftnl_expr* v = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(v, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(v, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(NFT_RETURN));
    addExpr(r.get(), v);
  } else {
    const uint16_t port = htons(spec.redirectPort);
    nftnl_expr* imm = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
    nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &port, sizeof(port));
    addExpr(r.get(), imm);
    nftnl_expr* redir = nftnl_expr_alloc("redir");
    nftnl_expr_set_u32(redir, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
    nftnl_expr_set_u32(redir, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
    addExpr(r.get(), redir);
  }
  if (!spec.comment.empty()) {
    UdataPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, spec.comment.c_str());
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()),
                        nftnl_udata_buf_len(ud.get()));
  }
  return r;
}

// ---- parsing kernel rules back into NftRule -------------------------------------------------

struct Load {
  enum Kind { None, Meta, Payload } kind = None;
  uint32_t key = 0; // meta key or payload base
  uint32_t offset = 0;
  uint32_t len = 0;
  uint32_t prefix = 0; // from a bitwise mask; len*8 when none
};

std::string_view exprData(const nftnl_expr* e, uint16_t attr) {
  uint32_t len = 0;
  const void* d = nftnl_expr_get(e, attr, &len);
  return d ? std::string_view(static_cast<const char*>(d), len) : std::string_view();
}

uint32_t maskPrefix(std::string_view mask, bool& contiguous) {
  uint32_t bits = 0;
  bool zeroSeen = false;
  contiguous = true;
  for (unsigned char byte : mask) {
    for (int b = 7; b >= 0; --b) {
      const bool one = (byte >> b) & 1;
      if (one && zeroSeen) {
        contiguous = false;
      }
      zeroSeen = zeroSeen || !one;
      bits += one ? 1 : 0;
    }
  }
  return bits;
}

void unknown(NftRule& r, std::string_view what) {
  r.unrecognized += (r.unrecognized.empty() ? "" : ",") + std::string(what);
}

void applyCmp(NftRule& r, const Load& load, std::string_view data) {
  if (load.kind == Load::Meta) {
    switch (load.key) {
    case NFT_META_IIFNAME:
      r.iifname = std::string(data.substr(0, data.find('\0')));
      return;
    case NFT_META_NFPROTO:
      if (data.size() == 1 && (data[0] == NFPROTO_IPV4 || data[0] == NFPROTO_IPV6)) {
        r.nfproto = data[0] == NFPROTO_IPV4 ? Family::V4 : Family::V6;
        return;
      }
      break;
    case NFT_META_L4PROTO:
      if (data.size() == 1 && data[0] == IPPROTO_TCP) {
        r.tcp = true;
        return;
      }
      break;
    case NFT_META_SKUID:
      if (data.size() == 4) {
        uint32_t uid = 0;
        std::memcpy(&uid, data.data(), 4);
        r.skuid = uid;
        return;
      }
      break;
    default:
      break;
    }
  } else if (load.kind == Load::Payload) {
    if (load.key == NFT_PAYLOAD_TRANSPORT_HEADER && load.offset == 2 && load.len == 2 &&
        data.size() == 2 && load.prefix == 16) {
      uint16_t port = 0;
      std::memcpy(&port, data.data(), 2);
      r.dport = ntohs(port);
      return;
    }
    if (load.key == NFT_PAYLOAD_NETWORK_HEADER && data.size() == load.len &&
        (load.len == 4 || load.len == 16)) {
      const bool v4 = load.len == 4;
      const bool src = load.offset == (v4 ? 12u : 8u);
      const bool dst = load.offset == (v4 ? 16u : 24u);
      if (src || dst) {
        Cidr c;
        c.family = v4 ? Family::V4 : Family::V6;
        std::memcpy(c.addr.data(), data.data(), data.size());
        c.prefix = static_cast<uint8_t>(load.prefix);
        (src ? r.saddr : r.daddr) = c;
        return;
      }
    }
  }
  unknown(r, "cmp");
}

NftRule parseRule(const nftnl_rule* kr) {
  NftRule r;
  Load load;
  std::optional<uint16_t> immPort;
  ExprIterPtr it(nftnl_expr_iter_create(kr));
  for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
       e = nftnl_expr_iter_next(it.get())) {
    const std::string_view name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (name == "meta" && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG)) {
      load = {Load::Meta, nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY), 0, 0, 0};
    } else if (name == "payload" && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG)) {
      const uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
      load = {Load::Payload, nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE),
              nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), len, len * 8};
    } else if (name == "bitwise" && load.kind == Load::Payload) {
      bool contiguous = true;
      load.prefix = maskPrefix(exprData(e, NFTNL_EXPR_BITWISE_MASK), contiguous);
      if (!contiguous) {
        unknown(r, "bitwise");
      }
    } else if (name == "cmp") {
      if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ) {
        unknown(r, "cmp-op");
      } else {
        applyCmp(r, load, exprData(e, NFTNL_EXPR_CMP_DATA));
      }
      load = {};
    } else if (name == "immediate") {
      if (nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
        const auto v = static_cast<int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
        if (v == NFT_RETURN) {
          r.verdict = NftVerdict::Return;
        } else {
          unknown(r, "verdict");
        }
      } else if (auto d = exprData(e, NFTNL_EXPR_IMM_DATA); d.size() == 2) {
        uint16_t port = 0;
        std::memcpy(&port, d.data(), 2);
        immPort = ntohs(port);
      } else {
        unknown(r, "immediate");
      }
    } else if (name == "redir" && immPort) {
      r.verdict = NftVerdict::Redirect;
      r.redirectPort = *immPort;
    } else {
      unknown(r, name);
    }
  }
  if (nftnl_rule_is_set(kr, NFTNL_RULE_USERDATA)) {
    uint32_t len = 0;
    const void* data = nftnl_rule_get_data(kr, NFTNL_RULE_USERDATA, &len);
    nftnl_udata_parse(
        data, len,
        [](const nftnl_udata* attr, void* out) -> int {
          if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
            const char* v = static_cast<const char*>(nftnl_udata_get(attr));
            static_cast<NftRule*>(out)->comment.assign(v, strnlen(v, nftnl_udata_len(attr)));
          }
          return MNL_CB_OK;
        },
        &r);
  }
  return r;
}

// ---- the socket ---------------------------------------------------------------------------

class Socket {
public:
  static Result<std::unique_ptr<Socket>> open() {
    mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
    if (nl == nullptr) {
      return BW_ERR(lastErrno(), "nftables: cannot open a netfilter netlink socket");
    }
    auto s = std::unique_ptr<Socket>(new Socket(nl));
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      return BW_ERR(lastErrno(), "nftables: cannot bind the netlink socket");
    }
    s->portid_ = mnl_socket_get_portid(nl);
    return s;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { mnl_socket_close(nl_); }

  uint32_t nextSeq() { return seq_++; }

  // Sends one dump request and feeds each answer message to `cb` until NLMSG_DONE.
  Status dump(nlmsghdr* req, const std::function<void(const nlmsghdr*)>& cb, const char* what) {
    if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) {
      return BW_ERR(lastErrno(), std::string("nftables: cannot send ") + what);
    }
    struct Ctx {
      const std::function<void(const nlmsghdr*)>* cb;
    } ctx{&cb};
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    for (int round = 0; round < 100000; ++round) {
      if (auto st = waitReadable(what); !st) {
        return st;
      }
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        return BW_ERR(lastErrno(), std::string("nftables: cannot read ") + what);
      }
      int rc = mnl_cb_run(
          buf.data(), static_cast<size_t>(n), req->nlmsg_seq, portid_,
          [](const nlmsghdr* nlh, void* data) -> int {
            (*static_cast<Ctx*>(data)->cb)(nlh);
            return MNL_CB_OK;
          },
          &ctx);
      if (rc < 0) {
        return BW_ERR(lastErrno(), std::string("nftables: ") + what + " failed");
      }
      if (rc == MNL_CB_STOP) {
        return {};
      }
    }
    return BW_ERR(std::make_error_code(std::errc::message_size), "nftables: endless dump");
  }

  // Sends a batch whose `acks` messages carry NLM_F_ACK and waits for all of them.
  Status sendBatch(const void* data, size_t len, size_t acks, uint32_t firstSeq) {
    if (mnl_socket_sendto(nl_, data, len) < 0) {
      return BW_ERR(lastErrno(), "nftables: cannot send the batch");
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    size_t seen = 0;
    std::optional<Error> first;
    while (seen < acks) {
      if (auto st = waitReadable("batch acknowledgement"); !st) {
        return st;
      }
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        return BW_ERR(lastErrno(), "nftables: cannot read the batch acknowledgement");
      }
      // Each ack or error is one NLMSG_ERROR message; count them one by one.
      auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
      int left = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq < firstSeq) {
          continue;
        }
        ++seen;
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0 && !first) {
          first = Error(errnoCode(-err->error), "nftables: the kernel rejected the batch",
                        __FILE__, __LINE__);
        }
      }
      if (first) {
        return tl::unexpected(*first); // the whole transaction was aborted
      }
    }
    return {};
  }

private:
  explicit Socket(mnl_socket* nl) : nl_(nl), seq_(static_cast<uint32_t>(time(nullptr))) {}

  Status waitReadable(const char* what) {
    pollfd p{mnl_socket_get_fd(nl_), POLLIN, 0};
    int rc = 0;
    do {
      rc = ::poll(&p, 1, kReplyTimeoutMs);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      return BW_ERR(std::make_error_code(std::errc::timed_out),
                    std::string("nftables: no answer from the kernel to ") + what);
    }
    if (rc < 0) {
      return BW_ERR(lastErrno(), "nftables: poll");
    }
    return {};
  }

  mnl_socket* nl_;
  uint32_t portid_ = 0;
  uint32_t seq_;
};

class RealNetlinkOps : public NetlinkOps {
public:
  Status probe() override {
    auto t = readTable(kNftTable);
    if (!t) {
      return tl::unexpected(t.error());
    }
    return {};
  }

  Result<std::optional<NftTable>> readTable(std::string_view name) override {
    auto sock = Socket::open();
    if (!sock) {
      return tl::unexpected(sock.error());
    }
    Socket& s = **sock;
    const std::string tname(name);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);

    bool found = false;
    nlmsghdr* req =
        nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_DUMP, s.nextSeq());
    auto st = s.dump(
        req,
        [&](const nlmsghdr* nlh) {
          TablePtr t(nftnl_table_alloc());
          if (nftnl_table_nlmsg_parse(nlh, t.get()) == 0 &&
              tname == nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME)) {
            found = true;
          }
        },
        "the table list");
    if (!st) {
      return tl::unexpected(st.error());
    }
    if (!found) {
      return std::optional<NftTable>();
    }

    NftTable table;
    table.name = tname;
    req = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP,
                                s.nextSeq());
    st = s.dump(
        req,
        [&](const nlmsghdr* nlh) {
          ChainPtr c(nftnl_chain_alloc());
          if (nftnl_chain_nlmsg_parse(nlh, c.get()) != 0 ||
              tname != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) {
            return;
          }
          NftChain chain;
          chain.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
          chain.type = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE)
                           ? nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE)
                           : "";
          chain.hook = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)
                           ? hookName(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM))
                           : "";
          chain.priority = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_PRIO)
                               ? nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO)
                               : 0;
          if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY) &&
              nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY) != NF_ACCEPT) {
            chain.type += " (policy drop)";
          }
          table.chains.push_back(std::move(chain));
        },
        "the chain list");
    if (!st) {
      return tl::unexpected(st.error());
    }

    req = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP,
                                s.nextSeq());
    {
      RulePtr filter(nftnl_rule_alloc());
      nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, tname.c_str());
      nftnl_rule_nlmsg_build_payload(req, filter.get());
    }
    st = s.dump(
        req,
        [&](const nlmsghdr* nlh) {
          RulePtr r(nftnl_rule_alloc());
          if (nftnl_rule_nlmsg_parse(nlh, r.get()) != 0 ||
              tname != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) {
            return;
          }
          const std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
          for (auto& c : table.chains) {
            if (c.name == chain) {
              c.rules.push_back(parseRule(r.get()));
            }
          }
        },
        "the rule list");
    if (!st) {
      return tl::unexpected(st.error());
    }
    std::sort(table.chains.begin(), table.chains.end(),
              [](const NftChain& a, const NftChain& b) { return a.name < b.name; });
    return std::optional<NftTable>(std::move(table));
  }

  Status replaceTable(std::string_view name, const NftTable* table) override {
    auto sock = Socket::open();
    if (!sock) {
      return tl::unexpected(sock.error());
    }
    Socket& s = **sock;
    const std::string tname(name);
    std::vector<char> buf(kBatchBytes);
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
    std::unique_ptr<mnl_nlmsg_batch, Deleter<mnl_nlmsg_batch_stop>> guard(batch);
    size_t acks = 0;
    bool full = false;
    auto next = [&] {
      if (!mnl_nlmsg_batch_next(batch)) {
        full = true;
      }
    };
    auto msg = [&](uint16_t type, uint16_t flags) {
      ++acks;
      return nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), type,
                                   NFPROTO_INET, flags | NLM_F_ACK, s.nextSeq());
    };

    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), s.nextSeq());
    next();
    const uint32_t firstSeq = s.nextSeq();
    TablePtr t(nftnl_table_alloc());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, tname.c_str());
    // add table (no-op if present) + delete table: the table is gone, whatever was there.
    nftnl_table_nlmsg_build_payload(msg(NFT_MSG_NEWTABLE, NLM_F_CREATE), t.get());
    next();
    nftnl_table_nlmsg_build_payload(msg(NFT_MSG_DELTABLE, 0), t.get());
    next();
    if (table != nullptr) {
      nftnl_table_nlmsg_build_payload(msg(NFT_MSG_NEWTABLE, NLM_F_CREATE), t.get());
      next();
      for (const auto& c : table->chains) {
        ChainPtr ch(nftnl_chain_alloc());
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, tname.c_str());
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, c.name.c_str());
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, c.type.c_str());
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, hookNum(c.hook));
        nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.priority);
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
        nftnl_chain_nlmsg_build_payload(msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE), ch.get());
        next();
      }
      for (const auto& c : table->chains) {
        for (const auto& rule : c.rules) {
          RulePtr r = buildRule(tname, c.name, rule);
          nftnl_rule_nlmsg_build_payload(msg(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND),
                                         r.get());
          next();
        }
      }
    }
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), s.nextSeq());
    next();
    if (full) {
      return BW_ERR(std::make_error_code(std::errc::message_size),
                    "nftables: the rule set does not fit one batch");
    }
    auto st = s.sendBatch(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), acks,
                          firstSeq);
    if (!st) {
      return tl::unexpected(std::move(st.error()).wrap("table inet " + tname));
    }
    return {};
  }
};

} // namespace

NetlinkOpsPtr makeNetlinkOps() { return std::make_unique<RealNetlinkOps>(); }

} // namespace bulwark::capture
