// Posts webhook deliveries signed by the providers' own libraries, so the
// Rust tests check Telltale's receiver against the reference signers:
// GitHub (@octokit/webhooks-methods), Stripe (stripe's
// generateTestHeaderString) and Standard Webhooks (standardwebhooks).
//
//   node webhook-sender.mjs '<plan JSON>'
//
// The plan is an array of deliveries, posted in order:
//   {url, scheme: "github"|"stripe"|"standard"|"token", secret, body,
//    id?, event?, timestamp? (Unix s), tamper? (change the body after
//    signing), headers? (extra)}
// It prints one JSON array of the answers' statuses.
import { sign as githubSign } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";

const plan = JSON.parse(process.argv[2]);
const stripe = new Stripe("sk_test_telltale");
const statuses = [];
for (const d of plan) {
  const ts = d.timestamp ?? Math.floor(Date.now() / 1000);
  const headers = { "content-type": "application/json", ...(d.headers ?? {}) };
  switch (d.scheme) {
    case "github":
      headers["x-hub-signature-256"] = await githubSign(d.secret, d.body);
      if (d.id) headers["x-github-delivery"] = d.id;
      if (d.event) headers["x-github-event"] = d.event;
      break;
    case "stripe":
      headers["stripe-signature"] = stripe.webhooks.generateTestHeaderString({
        payload: d.body,
        secret: d.secret,
        timestamp: ts,
      });
      break;
    case "standard":
      headers["webhook-id"] = d.id;
      headers["webhook-timestamp"] = String(ts);
      headers["webhook-signature"] = new Webhook(d.secret).sign(d.id, new Date(ts * 1000), d.body);
      break;
    case "token":
      headers["authorization"] = `Bearer ${d.secret}`;
      break;
    default:
      throw new Error(`unknown scheme ${d.scheme}`);
  }
  const body = d.tamper ? d.body.replace(/.$/, " ") : d.body;
  const res = await fetch(d.url, { method: "POST", headers, body });
  await res.arrayBuffer();
  statuses.push(res.status);
}
console.log(JSON.stringify(statuses));
