// The webhook console: the recent deliveries first, then every event as it
// comes over the event stream. No framework, no build step.
'use strict';
(() => {
	const cfg = JSON.parse(document.body.dataset.config);
	const base = cfg.base;
	let token = document.body.dataset.token;
	const failureTypes = new Set(cfg.failures);
	const $ = (id) => document.getElementById(id);
	const tbody = $('rows'), list = $('list'), detail = $('detail'), dBody = $('d-body');
	const MAX_ROWS = 2000, MAX_TIMELINE = 50;

	const rows = new Map(); // key -> row
	const byRequest = new Map(); // request id -> key
	const routes = new Set();
	let selected = null;
	let lastId = '0';

	// ---- outcomes: a word, a class and a sign, never colour alone

	const looks = {
		delivered: ['delivered', 'ok', '✓'],
		forwarded: ['forwarded', 'ok', '✓'],
		verified: ['verified', 'info', '•'],
		pending: ['pending', 'info', '…'],
		retrying: ['retrying', 'warn', '↻'],
		replayed: ['replayed', 'info', '↻'],
		dead: ['dead', 'bad', '✗'],
		rejected: ['rejected', 'bad', '✗'],
		upstream_failed: ['app failed', 'bad', '✗'],
		duplicate: ['duplicate', 'quiet', '='],
		in_flight: ['in flight', 'quiet', '='],
		handshake: ['handshake', 'quiet', '•'],
		rate_limited: ['rate limited', 'warn', '!'],
		sender_gone: ['sender gone', 'warn', '!'],
	};
	function look(outcome) {
		if (looks[outcome]) return looks[outcome];
		return [outcome.replace(/_/g, ' '), failureTypes.has(outcome) ? 'bad' : 'quiet', failureTypes.has(outcome) ? '✗' : '•'];
	}
	const words = (s) => (s || '').replace(/_/g, ' ');
	function badge(outcome, extra) {
		const [word, cls, sign] = look(outcome);
		const b = el('span', 'badge ' + cls);
		b.append(el('span', 'i', sign), ' ' + word + (extra ? ' · ' + extra : ''));
		b.title = word + (extra ? ': ' + extra : '');
		return b;
	}

	// ---- rows

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function rowFor(key, time) {
		let r = rows.get(key);
		if (!r) {
			r = { key, time: time || Date.now(), dests: new Map(), timeline: [], outcome: '', at: 0, attempts: 0 };
			rows.set(key, r);
		}
		return r;
	}

	// keyOf finds the row of an event: by our delivery id, else by the
	// request, else its own.
	function keyOf(e) {
		const byReq = e.request_id && byRequest.get(e.request_id);
		if (e.delivery_id) {
			const key = 'd:' + e.delivery_id;
			if (byReq && byReq !== key && !rows.has(key)) rekey(byReq, key);
			if (e.request_id) byRequest.set(e.request_id, key);
			return key;
		}
		if (byReq) return byReq;
		const key = e.request_id ? 'r:' + e.request_id : 'e:' + e.id;
		if (e.request_id) byRequest.set(e.request_id, key);
		return key;
	}

	function rekey(from, to) {
		const r = rows.get(from);
		if (!r) return;
		rows.delete(from);
		r.key = to;
		rows.set(to, r);
		if (r.tr) r.tr.dataset.key = to;
		if (selected === from) selected = to;
	}

	// durableOutcome sums up the destinations.
	function durableOutcome(r) {
		const states = [...r.dests.values()].map((d) => d.state);
		if (states.includes('dead')) return 'dead';
		if (states.includes('retrying')) return 'retrying';
		if (states.includes('pending') || states.length === 0) return r.replayed ? 'replayed' : 'pending';
		return 'delivered';
	}

	function applyEvent(e) {
		const t = Date.parse(e.time);
		const r = rowFor(keyOf(e), t);
		r.time = Math.min(r.time, t);
		for (const f of ['route', 'provider', 'event', 'provider_id', 'request_id', 'client_ip', 'method', 'path']) {
			if (e[f] && !r[f]) r[f] = e[f];
		}
		if (e.delivery_id) { r.delivery_id = e.delivery_id; r.durable = r.durable || e.delivery_id.startsWith('msg_'); }
		r.timeline.push(e);
		if (r.timeline.length > MAX_TIMELINE) r.timeline.shift();
		if (e.route) routes.add(e.route);
		const fresh = t >= r.at;
		if (fresh) r.at = t;
		switch (e.type) {
		case 'accepted':
			r.durable = true;
			if (!r.dests.size && fresh) r.outcome = 'pending';
			break;
		case 'attempt': case 'delivered': case 'dead': {
			r.durable = true;
			const d = r.dests.get(e.destination) || { at: 0 };
			if (t >= d.at) {
				Object.assign(d, {
					at: t, state: e.type === 'attempt' ? 'retrying' : e.type, attempts: e.attempt || 0,
					status: e.status || 0, error: e.error || '', next: e.next_attempt || '',
				});
				r.dests.set(e.destination, d);
			}
			r.replayed = false;
			r.outcome = durableOutcome(r);
			r.status = (r.dests.get(e.destination) || {}).status || r.status;
			break;
		}
		case 'replayed':
			if (!fresh) break;
			r.durable = true;
			for (const [name, d] of r.dests) {
				if (!e.destination || e.destination === name) { if (d.state !== 'retrying') d.state = 'pending'; d.at = t; }
			}
			r.replayed = true;
			r.outcome = 'replayed';
			break;
		case 'verified':
			if (!r.outcome) r.outcome = 'verified';
			break;
		default:
			if (fresh) {
				r.outcome = e.type;
				if (e.status) r.status = e.status;
				if (e.attempt) r.attempts = e.attempt;
			}
		}
		if (e.reason && e.type !== 'replayed') r.reason = e.reason;
		if (r.durable && r.dests.size) r.attempts = [...r.dests.values()].reduce((n, d) => n + (d.attempts || 0), 0);
		return r;
	}

	// applyDelivery takes a delivery from the API (list or detail).
	function applyDelivery(d) {
		const key = 'd:' + d.id;
		const r = rowFor(key, Date.parse(d.received));
		Object.assign(r, { route: d.route, provider: d.provider, event: d.event, provider_id: d.provider_id, delivery_id: d.id, durable: true });
		routes.add(d.route);
		for (const tg of d.targets || []) {
			const at = Date.parse(tg.updated);
			const cur = r.dests.get(tg.destination);
			if (cur && cur.at > at) continue;
			const state = tg.state === 'pending' && tg.attempts > 0 && tg.round > 0 ? 'retrying' : tg.state;
			r.dests.set(tg.destination, {
				at, state, attempts: tg.attempts, status: tg.last_status || 0, error: tg.last_error || '',
				next: tg.state === 'pending' ? tg.next : '',
			});
			r.at = Math.max(r.at, at);
		}
		r.outcome = durableOutcome(r);
		r.status = d.status || r.status;
		r.attempts = d.attempts;
		return r;
	}

	function applyRejected(j) {
		const key = j.request_id ? (byRequest.get(j.request_id) || 'r:' + j.request_id) : 'j:' + j.id;
		if (j.request_id) byRequest.set(j.request_id, key);
		const t = Date.parse(j.time);
		const r = rowFor(key, t);
		Object.assign(r, { route: j.route, provider: j.provider, method: j.method, path: j.path, client_ip: j.client_ip, rejected: j });
		if (!r.outcome || t >= r.at) { r.outcome = 'rejected'; r.reason = j.reason; r.at = t; }
		routes.add(j.route);
		return r;
	}

	// ---- drawing

	const fmtTime = (ms) => {
		const d = new Date(ms);
		const today = new Date().toDateString() === d.toDateString();
		return today ? d.toLocaleTimeString([], { hour12: false }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
	};

	function draw(r, isNew) {
		let tr = r.tr;
		if (!tr) {
			tr = r.tr = el('tr');
			tr.tabIndex = 0;
			tr.dataset.key = r.key;
			for (const c of ['c-time', 'c-route', 'c-provider', 'c-event', 'c-id', 'c-outcome', 'c-status', 'c-tries']) tr.append(el('td', c));
			place(tr, r);
			if (isNew) tr.classList.add('fresh');
		}
		const [, cls] = look(r.outcome || 'verified');
		tr.classList.toggle('row-bad', cls === 'bad');
		tr.classList.toggle('row-warn', cls === 'warn');
		tr.dataset.outcome = r.outcome;
		tr.dataset.route = r.route || '';
		const td = tr.children;
		td[0].textContent = fmtTime(r.time);
		td[0].title = new Date(r.time).toISOString();
		td[1].textContent = r.route || '';
		td[2].textContent = r.provider || '';
		td[3].textContent = r.event || '';
		const id = r.delivery_id || r.provider_id || r.request_id || '';
		td[4].textContent = id;
		td[4].title = id;
		td[5].replaceChildren(badge(r.outcome || 'verified', r.outcome === 'rejected' ? words(r.reason) : ''));
		td[6].textContent = r.status || '';
		td[6].className = 'c-status' + (r.status >= 400 || (r.status && r.status < 200) ? ' bad' : '');
		td[7].textContent = r.attempts || '';
		tr.setAttribute('aria-selected', String(selected === r.key));
		filterRow(r);
	}

	// place inserts a new row by time, newest first, keeping the rows in
	// view where they are when the list is scrolled.
	function place(tr, r) {
		let before = tbody.firstElementChild;
		while (before && rows.get(before.dataset.key) && rows.get(before.dataset.key).time > r.time) before = before.nextElementSibling;
		const keep = list.scrollTop > 0 && (!before || before.offsetTop <= list.scrollTop + 40);
		tbody.insertBefore(tr, before);
		if (keep) list.scrollTop += tr.offsetHeight;
		$('empty').hidden = true;
		if (rows.size > MAX_ROWS) {
			const last = tbody.lastElementChild;
			if (last && last.dataset.key !== selected) { rows.delete(last.dataset.key); last.remove(); }
		}
	}

	// ---- filters

	const fRoute = $('f-route'), fOutcome = $('f-outcome'), fText = $('f-text');
	function filterRow(r) {
		const [, cls] = look(r.outcome || 'verified');
		const o = fOutcome.value, text = fText.value.trim().toLowerCase();
		let show = !fRoute.value || r.route === fRoute.value;
		if (show && o) {
			show = o === 'problems' ? cls === 'bad' || cls === 'warn'
				: o === 'delivered' ? r.outcome === 'delivered' || r.outcome === 'forwarded'
					: o === 'pending' ? ['pending', 'retrying', 'replayed', 'verified'].includes(r.outcome)
						: o === 'duplicate' ? r.outcome === 'duplicate' || r.outcome === 'in_flight'
							: r.outcome === o;
		}
		if (show && text) {
			const hay = [r.delivery_id, r.provider_id, r.request_id, r.event, r.reason, r.route, r.provider, ...r.dests.keys()].join(' ').toLowerCase();
			show = hay.includes(text);
		}
		r.tr.hidden = !show;
	}
	function refilter() {
		for (const r of rows.values()) if (r.tr) filterRow(r);
		counts();
	}
	fRoute.addEventListener('change', refilter);
	fOutcome.addEventListener('change', refilter);
	fText.addEventListener('input', refilter);

	function syncRoutes() {
		const have = new Set([...fRoute.options].map((o) => o.value));
		for (const name of [...routes].sort()) {
			if (!have.has(name)) fRoute.append(new Option(name, name));
		}
	}

	let countsQueued = false;
	function counts() {
		if (countsQueued) return;
		countsQueued = true;
		requestAnimationFrame(() => {
			countsQueued = false;
			let shown = 0, bad = 0;
			for (const r of rows.values()) {
				if (r.tr && !r.tr.hidden) shown++;
				if (look(r.outcome || 'verified')[1] === 'bad') bad++;
			}
			const c = $('counts');
			c.replaceChildren(shown + ' shown · ');
			const b = el('b', '', String(bad));
			c.append(b, bad === 1 ? ' problem' : ' problems');
		});
	}

	function update(r, isNew) {
		draw(r, isNew);
		syncRoutes();
		counts();
		if (selected === r.key) showDetail(r, false);
	}

	// ---- detail

	function dl(pairs) {
		const d = el('dl');
		for (const [k, v, mono] of pairs) {
			if (v === undefined || v === null || v === '' || v === 0) continue;
			d.append(el('dt', '', k), el('dd', mono ? 'mono' : '', String(v)));
		}
		return d;
	}
	function fmtDuration(ns) {
		if (!ns) return '';
		const ms = ns / 1e6;
		return ms < 1 ? ms.toFixed(2) + ' ms' : ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
	}
	const fmtFull = (s) => (s ? new Date(s).toLocaleString([], { hour12: false }) : '');
	const fmtClock = (s) => {
		const d = new Date(s);
		return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
	};

	function headersTable(h) {
		const t = el('table', 'headers');
		for (const name of Object.keys(h || {}).sort()) {
			for (const v of h[name]) {
				const tr = el('tr');
				tr.append(el('td', '', name), el('td', v === '[redacted]' ? 'redacted' : '', v === '[redacted]' ? 'redacted' : v));
				t.append(tr);
			}
		}
		return t;
	}

	let detailSeq = 0;
	async function showDetail(r, focus) {
		selected = r.key;
		for (const tr of tbody.querySelectorAll('tr[aria-selected="true"]')) tr.setAttribute('aria-selected', 'false');
		if (r.tr) r.tr.setAttribute('aria-selected', 'true');
		detail.hidden = false;
		const title = $('d-title');
		title.textContent = r.delivery_id || r.provider_id || r.request_id || r.event || 'Request';
		title.title = title.textContent;
		const seq = ++detailSeq;
		const parts = [];
		const head = el('div', 'dest-head');
		head.append(badge(r.outcome || 'verified', r.outcome === 'rejected' ? words(r.reason) : ''));
		parts.push(head);
		parts.push(dl([
			['Route', r.route], ['Provider', r.provider], ['Event', r.event], ['Delivery', r.delivery_id, true],
			['Provider id', r.provider_id, true], ['Request id', r.request_id, true], ['First seen', fmtFull(r.time)],
			['Request', r.method && (r.method + ' ' + (r.path || '')), true], ['Client', r.client_ip, true],
			['Reason', words(r.reason)],
		]));
		let info = null;
		if (r.durable && r.delivery_id) {
			try {
				const res = await fetch(base + 'api/deliveries/' + encodeURIComponent(r.delivery_id));
				if (res.ok) info = await res.json();
			} catch (_) { /* shown below */ }
			if (seq !== detailSeq) return;
			if (info) applyDelivery(info), draw(r, false);
		}
		if (info) parts.push(...durableParts(r, info));
		if (r.rejected) parts.push(...rejectedParts(r.rejected));
		parts.push(el('h3', '', 'Events'), timeline(r));
		dBody.replaceChildren(...parts);
		if (focus) $('d-close').focus({ preventScroll: true });
	}

	function durableParts(r, d) {
		const out = [el('h3', '', 'Destinations')];
		if (d.replayable) {
			const bar = el('div', 'dest-head');
			const btn = el('button', 'replay', 'Replay');
			btn.type = 'button';
			btn.title = 'Deliver again to every destination that is done with it';
			// the message outlives the panel's redraws as events come
			const msg = el('span', r.replayMsg ? r.replayMsg[1] : 'msg', r.replayMsg ? r.replayMsg[0] : '');
			btn.addEventListener('click', () => replay(r, d.id, btn, msg));
			bar.append(btn, msg);
			out.push(bar);
		}
		for (const t of d.targets) {
			const box = el('div', 'dest');
			const head = el('div', 'dest-head');
			const state = t.state === 'pending' && t.round > 0 ? 'retrying' : t.state;
			head.append(el('span', 'name', t.destination), badge(state));
			box.append(head);
			const facts = [['Attempts', t.attempts], ['Replays', t.replays]];
			if (t.state === 'pending' && t.next) facts.push(['Next attempt', fmtFull(t.next)]);
			box.append(dl(facts));
			const at = el('table', 'attempts');
			(t.history || []).forEach((a, i) => {
				const tr = el('tr', 'attempt');
				const good = a.status >= 200 && a.status < 300;
				const result = el('td', good ? 'ok' : 'bad', (good ? '✓ ' : '✗ ') + (a.status ? 'HTTP ' + a.status : 'no answer') + (a.error ? ' · ' + a.error : ''));
				const n = t.attempts - (t.history.length - 1 - i);
				const when = el('td', 'mono nowrap', fmtClock(a.at));
				when.title = fmtFull(a.at);
				tr.append(el('td', 'mono nowrap', '#' + n + (a.replay ? ' ↻' : '')), when, result, el('td', 'mono nowrap', fmtDuration(a.duration)));
				at.append(tr);
			});
			box.append((t.history || []).length ? at : el('p', 'note', 'No attempt yet.'));
			out.push(box);
		}
		out.push(el('h3', '', 'Request headers'), headersTable(d.header), dl([['Body', d.size ? d.size + ' bytes' : '']]));
		out.push(el('p', 'note', 'Secret-bearing and signature headers are redacted.'));
		return out;
	}

	function rejectedParts(j) {
		return [
			el('h3', '', 'Rejected request'),
			dl([['Reason', j.reason], ['Detail', j.detail], ['Request', j.method + ' ' + j.path, true], ['Client', j.client_ip, true], ['Body', j.size ? j.size + ' bytes' : '']]),
			el('h3', '', 'Request headers'), headersTable(j.header),
			el('p', 'note', 'Secret-bearing and signature headers are redacted.'),
		];
	}

	function timeline(r) {
		const t = el('table', 'timeline');
		for (const e of r.timeline) {
			const tr = el('tr');
			const what = [e.destination, e.status ? 'HTTP ' + e.status : '', e.error, e.reason, fmtDuration(e.duration), e.attempt ? 'attempt ' + e.attempt : '']
				.filter(Boolean).join(' · ');
			const typeCell = el('td');
			typeCell.append(badge(e.type === 'attempt' ? 'retrying' : e.type));
			tr.append(el('td', 'mono', new Date(e.time).toLocaleTimeString([], { hour12: false })), typeCell, el('td', '', what));
			t.append(tr);
		}
		return t;
	}

	async function replay(r, id, btn, msg) {
		btn.disabled = true;
		const say = (text, cls) => {
			r.replayMsg = [text, cls];
			for (const m of [msg, ...dBody.querySelectorAll('.msg')]) { m.textContent = text; m.className = cls; }
		};
		say('replaying…', 'msg');
		try {
			let res = await post(base + 'api/deliveries/' + encodeURIComponent(id) + '/replay');
			if (res.status === 403) { // a reloaded server has a new token
				const t = await fetch(base + 'api/token');
				if (t.ok) { token = (await t.json()).token; res = await post(base + 'api/deliveries/' + encodeURIComponent(id) + '/replay'); }
			}
			const body = await res.json().catch(() => ({}));
			if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
			say('replayed to ' + body.replayed + (body.replayed === 1 ? ' destination' : ' destinations'), 'msg ok');
		} catch (err) {
			say('replay failed: ' + err.message, 'msg bad');
		} finally {
			btn.disabled = false;
		}
	}
	const post = (url) => fetch(url, { method: 'POST', headers: { 'X-CSRF-Token': token } });

	$('d-close').addEventListener('click', closeDetail);
	document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeDetail(); });
	function closeDetail() {
		detail.hidden = true;
		const r = rows.get(selected);
		selected = null;
		if (r && r.tr) { r.tr.setAttribute('aria-selected', 'false'); r.tr.focus({ preventScroll: true }); }
	}
	tbody.addEventListener('click', (ev) => {
		const tr = ev.target.closest('tr');
		if (tr && rows.get(tr.dataset.key)) showDetail(rows.get(tr.dataset.key), false);
	});
	tbody.addEventListener('keydown', (ev) => {
		const tr = ev.target.closest('tr');
		if (!tr) return;
		if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); showDetail(rows.get(tr.dataset.key), true); }
		if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
			ev.preventDefault();
			let next = ev.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
			while (next && next.hidden) next = ev.key === 'ArrowDown' ? next.nextElementSibling : next.previousElementSibling;
			if (next) next.focus();
		}
	});

	// ---- loading and following

	async function loadHistory() {
		try {
			const [ds, rj] = await Promise.all([
				fetch(base + 'api/deliveries?limit=200').then((r) => (r.ok ? r.json() : { deliveries: [] })),
				fetch(base + 'api/rejected?limit=200').then((r) => (r.ok ? r.json() : { rejected: [] })),
			]);
			for (const d of ds.deliveries) update(applyDelivery(d), false);
			for (const j of rj.rejected) update(applyRejected(j), false);
		} catch (_) { /* the stream still runs; the status says offline if it does not */ }
	}

	const conn = $('conn');
	function setConn(state, text) { conn.dataset.state = state; conn.textContent = text || state; }

	let source = null, retry = 1000;
	function follow() {
		source = new EventSource(base + 'api/events?last_event_id=' + encodeURIComponent(lastId));
		source.onopen = () => { retry = 1000; setConn('live'); };
		source.onerror = () => {
			if (source.readyState === EventSource.CLOSED) {
				// refused (a 403, a reload): try again, backing off
				setConn('offline', 'offline, retrying');
				source.close();
				setTimeout(follow, retry);
				retry = Math.min(retry * 2, 30000);
			} else {
				setConn('connecting', 'reconnecting');
			}
		};
		const onEvent = (m) => {
			lastId = m.lastEventId || lastId;
			let e;
			try { e = JSON.parse(m.data); } catch (_) { return; }
			const isNew = !rows.has(keyOf(e));
			update(applyEvent(e), isNew);
		};
		for (const t of cfg.types) source.addEventListener(t, onEvent);
		source.addEventListener('message', onEvent);
		source.addEventListener('reset', () => loadHistory());
	}

	loadHistory().then(follow);
})();
