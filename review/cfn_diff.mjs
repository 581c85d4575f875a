// Diff pairs of CloudFormation templates with @aws-cdk/cloudformation-diff, the library behind
// `cdk diff`, and print what it found as JSON. Replacement rules come from its CloudFormation
// resource specification: nothing here decides what replaces what.
//
// Input (stdin): {"pairs": [{"id": "...", "old": {template}, "new": {template}}, ...]}
// Output (stdout): {"library": "<name>@<version>", "results": [{"id": "...", ...}, ...]}
// A stack that is new or gone is diffed against an empty template ({}).
//
// One addition to what `cdk diff` prints: a resource whose template text is unchanged but which
// references a replaced resource (`Ref`, `Fn::GetAtt`, `Fn::Sub`) still changes on deploy, because
// the replacement has a new name or ARN. `cdk diff` reports such a knock-on change only when it is
// itself a replacement; we also report knock-on in-place updates (`dueTo`), with the impact the
// library gives when it sees the reference change: this is how a new endpoint config shows up as
// an in-place update of the endpoint.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const cfnDiff = require('@aws-cdk/cloudformation-diff');
const libraryVersion = require('@aws-cdk/cloudformation-diff/package.json').version;

const cdkPath = (resource) => resource?.Metadata?.['aws:cdk:path'] ?? null;

const hasWildcard = (targets) => targets.values.some((value) => value.includes('*'));

function describeResource(logicalId, change) {
  const oldValue = change.oldValue;
  const newValue = change.newValue;
  return {
    logicalId,
    oldType: change.oldResourceType ?? null,
    newType: change.newResourceType ?? null,
    impact: change.changeImpact,
    path: cdkPath(newValue) ?? cdkPath(oldValue),
    oldDeletionPolicy: oldValue?.DeletionPolicy ?? null,
    newDeletionPolicy: newValue?.DeletionPolicy ?? null,
    dueTo: [],
    properties: Object.entries(change.propertyUpdates).map(([name, diff]) => ({
      name,
      impact: diff.changeImpact ?? 'WILL_UPDATE',
      old: diff.oldValue ?? null,
      new: diff.newValue ?? null,
    })),
    other: Object.entries(change.otherChanges).map(([name, diff]) => ({
      name,
      old: diff.oldValue ?? null,
      new: diff.newValue ?? null,
    })),
  };
}

function describeStatement(statement) {
  return {
    ...statement.render(),
    negative: statement.isNegativeStatement,
    wildcard: hasWildcard(statement.actions) || hasWildcard(statement.resources) || hasWildcard(statement.principals),
  };
}

// The template with every reference to a replaced resource rewritten, so that the library sees
// the value change that the replacement causes at deploy time.
function withReplacedReferences(template, replaced) {
  const mark = (logicalId) => `${logicalId} (replaced)`;
  const rewrite = (node) => {
    if (Array.isArray(node)) {
      return node.map(rewrite);
    }
    if (node === null || typeof node !== 'object') {
      return node;
    }
    const keys = Object.keys(node);
    if (keys.length === 1 && keys[0] === 'Ref' && replaced.has(node.Ref)) {
      return { Ref: mark(node.Ref) };
    }
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const target = node['Fn::GetAtt'];
      const [logicalId, ...rest] = Array.isArray(target) ? target : String(target).split('.');
      if (replaced.has(logicalId)) {
        return { 'Fn::GetAtt': [mark(logicalId), rest.join('.')] };
      }
    }
    if (keys.length === 1 && keys[0] === 'Fn::Sub') {
      const [text, variables] = Array.isArray(node['Fn::Sub']) ? node['Fn::Sub'] : [node['Fn::Sub'], undefined];
      const rewritten = String(text).replace(/\$\{([^}.!]+)([^}]*)\}/g, (whole, logicalId, attribute) =>
        replaced.has(logicalId) ? `\${${mark(logicalId)}${attribute}}` : whole);
      return { 'Fn::Sub': variables === undefined ? rewritten : [rewritten, rewrite(variables)] };
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, rewrite(value)]));
  };
  return { ...template, Resources: rewrite(template.Resources ?? {}) };
}

function describePair({ id, old: oldTemplate, new: newTemplate }) {
  const diff = cfnDiff.fullDiff(oldTemplate ?? {}, newTemplate ?? {});
  const resources = [];
  const replaced = new Set();
  diff.resources.forEachDifference((logicalId, change) => {
    if (change.isDifferent) {
      resources.push(describeResource(logicalId, change));
      if (change.changeImpact === cfnDiff.ResourceImpact.WILL_REPLACE) {
        replaced.add(logicalId);
      }
    }
  });
  if (replaced.size > 0) {
    const knockOn = cfnDiff.fullDiff(oldTemplate ?? {}, withReplacedReferences(newTemplate ?? {}, replaced));
    knockOn.resources.forEachDifference((logicalId, change) => {
      if (!change.isDifferent || change.isAddition || change.isRemoval || replaced.has(logicalId)) {
        return;
      }
      const dueTo = [...replaced].filter((replacedId) => JSON.stringify(change.newValue).includes(`${replacedId} (replaced)`));
      const existing = resources.find((r) => r.logicalId === logicalId);
      const known = new Set((existing?.properties ?? []).map((p) => p.name));
      // The values are the rewritten references, not template text: `dueTo` names the cause instead.
      const properties = describeResource(logicalId, change).properties
        .filter((p) => !known.has(p.name))
        .map((p) => ({ ...p, old: null, new: null }));
      if (existing === undefined) {
        resources.push({ ...describeResource(logicalId, change), properties, dueTo });
      } else if (properties.length > 0) {
        existing.properties.push(...properties);
        existing.dueTo = dueTo;
      }
    });
  }
  const iam = diff.iamChanges;
  const groups = diff.securityGroupChanges;
  return {
    id,
    resources,
    iam: {
      broadened: iam.permissionsBroadened,
      statementAdditions: iam.statements.additions.map(describeStatement),
      statementRemovals: iam.statements.removals.map(describeStatement),
      managedPolicyAdditions: iam.managedPolicies.additions.map((a) => ({ ...a })),
      managedPolicyRemovals: iam.managedPolicies.removals.map((a) => ({ ...a })),
    },
    // Each rule added or removed; whether any was added (the library's rulesAdded) follows from them.
    securityGroupRules: [["ingress", groups.ingress], ["egress", groups.egress]].flatMap(([direction, changes]) =>
      [[true, changes.additions], [false, changes.removals]].flatMap(([added, rules]) =>
        rules.map((r) => ({ ...r.toJson(), direction, added, protocol: r.describeProtocol(), peer: r.describePeer() })),
      ),
    ),
    outputs: diff.outputs.logicalIds,
    parameters: diff.parameters.logicalIds,
  };
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const results = input.pairs.map(describePair);
process.stdout.write(JSON.stringify({ library: `@aws-cdk/cloudformation-diff@${libraryVersion}`, results }));
