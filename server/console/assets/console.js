// Préau, console de la classe. No inline script (the Content-Security-Policy forbids
// it), nothing loaded from elsewhere; the grid comes from Server-Sent Events, never polled.
'use strict';

const etat = { csrf: '', classe: '', flux: null, classes: [], version: 0 };
const $ = (id) => document.getElementById(id);

function montrer(id) {
  for (const s of ['connexion', 'choix', 'classe']) $(s).hidden = s !== id;
}

function alerte(texte) {
  $('alerte').textContent = texte || '';
  $('alerte').hidden = !texte;
}

async function appel(methode, adresse, champs) {
  const options = { method: methode, credentials: 'same-origin', headers: {} };
  if (champs) {
    options.body = new URLSearchParams(champs);
    options.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (methode === 'POST' && etat.csrf) options.headers['X-CSRF-Token'] = etat.csrf;
  const r = await fetch(adresse, options);
  let corps = {};
  try { corps = await r.json(); } catch (e) { corps = {}; }
  if (!r.ok) {
    const err = new Error(corps.erreur || ('Erreur ' + r.status));
    err.status = r.status;
    throw err;
  }
  return corps;
}

async function demarrer() {
  try {
    if (location.pathname === '/connexion' && location.hash.length > 1) {
      const jeton = location.hash.slice(1);
      history.replaceState(null, '', '/');
      await appel('POST', '/api/connexion', { jeton });
    }
    await chargerSession();
  } catch (e) {
    montrer('connexion');
    alerte(e.message);
    document.body.dataset.pret = 'connexion';
  }
}

async function chargerSession() {
  const s = await appel('GET', '/api/session');
  etat.csrf = s.csrf;
  etat.classes = s.classes;
  $('qui').textContent = s.operateur + ' — session jusqu\u2019à ' + s.fin_texte;
  $('deconnexion').hidden = false;
  const liste = $('classes');
  liste.replaceChildren();
  for (const c of s.classes) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = c.chemin + ' (' + c.appareils + ')';
    b.addEventListener('click', () => ouvrirClasse(c.chemin));
    li.append(b);
    liste.append(li);
  }
  $('autres-classes').hidden = s.classes.length < 2;
  // Only the actions this server carries out get a button.
  for (const b of document.querySelectorAll('#actions button[data-action]')) {
    b.hidden = !s.actions.includes(b.dataset.action);
  }
  if (s.classes.length === 1) {
    ouvrirClasse(s.classes[0].chemin);
  } else {
    montrer('choix');
    if (s.classes.length === 0) alerte('Aucune classe avec des appareils dans vos droits.');
    document.body.dataset.pret = 'choix';
  }
}

function ouvrirClasse(chemin) {
  if (etat.flux) etat.flux.close();
  etat.classe = chemin;
  $('t-classe').textContent = chemin;
  $('resume').textContent = '';
  $('details').replaceChildren();
  $('grille').replaceChildren();
  montrer('classe');
  const flux = new EventSource('/api/flux?chemin=' + encodeURIComponent(chemin));
  etat.flux = flux;
  // A new stream (first, or after the server came back) starts the order anew.
  flux.onopen = () => { etat.version = 0; };
  flux.addEventListener('grille', (ev) => {
    alerte('');
    recevoir(JSON.parse(ev.data));
  });
  flux.addEventListener('fin', (ev) => {
    flux.close();
    alerte(ev.data);
    $('grille').replaceChildren();
    montrer('connexion');
  });
  flux.onerror = () => {
    if (flux.readyState === EventSource.CLOSED) return;
    alerte('Connexion au serveur perdue : nouvel essai…');
  };
}

function texteVerrou(v) {
  return {
    'verrouillee': 'Verrouillée (vérifié)',
    'deverrouillee': 'Déverrouillée',
    'non-verifiee': 'Verrou non vérifié',
  }[v] || 'État du verrou inconnu';
}

// A grid from the live stream or from a command's answer: drawn unless the one on screen
// is newer (the server numbers grids in the order it read them).
function recevoir(m) {
  if (!m || m.version < etat.version || m.grille.chemin !== etat.classe) return;
  etat.version = m.version;
  dessiner(m.grille);
}

function dessiner(g) {
  const grille = $('grille');
  const tuiles = [];
  for (const a of g.appareils) {
    const li = document.createElement('li');
    li.className = 'tuile';
    li.dataset.id = a.id;
    li.dataset.enLigne = a.en_ligne ? 'oui' : 'non';
    li.dataset.verrou = a.verrou;
    const lignes = [
      ['nom', a.nom],
      ['ligne', a.en_ligne ? 'En ligne' : 'Hors ligne'],
      ['verrou', texteVerrou(a.verrou)],
    ];
    if (a.batterie !== null) {
      lignes.push(['batterie', 'Batterie ' + a.batterie + ' %' + (a.en_charge ? ' (en charge)' : '')]);
    }
    if (a.appli) lignes.push(['appli', 'Appli : ' + a.appli]);
    for (const [classe, texte] of lignes) {
      const span = document.createElement('span');
      span.className = classe;
      span.textContent = texte;
      li.append(span);
    }
    li.setAttribute('aria-label', lignes.map((l) => l[1]).join(', '));
    tuiles.push(li);
  }
  grille.replaceChildren(...tuiles);
  $('compte').textContent = g.total + ' appareils, ' + g.en_ligne + ' en ligne, ' +
      g.verrouillees + ' verrouillées';
  requestAnimationFrame(() => { document.body.dataset.pret = 'classe'; });
}

async function agir(action) {
  const f = $('actions');
  const champs = { chemin: etat.classe, action };
  for (const nom of ['message', 'minutes', 'url', 'site']) {
    const v = f.elements[nom].value.trim();
    if (v) champs[nom] = v;
  }
  const boutons = f.querySelectorAll('button');
  boutons.forEach((b) => { b.disabled = true; });
  $('resume').textContent = 'Envoi…';
  $('details').replaceChildren();
  try {
    const r = await appel('POST', '/api/commande', champs);
    // The tiles as they stand with this answer, in the same frame as the summary.
    recevoir(r.grille);
    $('resume').textContent = r.resume;
    for (const d of r.details) {
      const li = document.createElement('li');
      li.textContent = d.nom + ' : ' + d.pourquoi;
      $('details').append(li);
    }
  } catch (e) {
    $('resume').textContent = e.message;
  } finally {
    boutons.forEach((b) => { b.disabled = false; });
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('actions').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const action = ev.submitter && ev.submitter.dataset.action;
    if (action) agir(action);
  });
  $('deconnexion').addEventListener('click', async () => {
    try { await appel('POST', '/api/deconnexion'); } catch (e) { /* already ended */ }
    if (etat.flux) etat.flux.close();
    etat.csrf = '';
    $('deconnexion').hidden = true;
    $('qui').textContent = '';
    montrer('connexion');
  });
  $('mot-de-passe').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      await appel('POST', '/api/connexion',
                  { nom: f.elements.nom.value, mot_de_passe: f.elements.mot_de_passe.value });
      f.elements.mot_de_passe.value = '';
      alerte('');
      await chargerSession();
    } catch (e) {
      alerte(e.message);
    }
  });
  $('autres-classes').addEventListener('click', () => {
    if (etat.flux) etat.flux.close();
    montrer('choix');
  });
  demarrer();
});
