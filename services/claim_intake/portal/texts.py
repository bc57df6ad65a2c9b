"""The portal's words in French (the default) and Arabic. The seed's wording where it has one: the buttons
« Nouvelle demande », « créer demande », « Valider », « Oui » / « Non », the history's column headings."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("fr", "ar")

_TEXTS: dict[str, tuple[str, str]] = {
    "fund": ("Caisse Nationale de Sécurité Sociale", "الصندوق الوطني للضمان الاجتماعي"),
    "motto": ("Le devoir de tous protéger", "واجب حماية الجميع"),
    "service": ("Indemnité pour Perte d'Emploi (IPE)", "التعويض عن فقدان الشغل"),
    "welcome": ("Bienvenue", "مرحبا"),
    "logout": ("se déconnecter", "تسجيل الخروج"),
    "switch": ("العربية", "Français"),
    "switch_label": ("Lire le portail en arabe", "قراءة البوابة بالفرنسية"),
    "nav": ("Menu du portail", "قائمة البوابة"),
    "skip": ("Aller au contenu", "الانتقال إلى المحتوى"),
    # login
    "login_title": ("Authentification", "تسجيل الدخول"),
    "login_intro": (
        "Introduisez le login et le mot de passe de votre compte Damancom.",
        'أدخلوا اسم المستخدم و كلمة السر لحسابكم "ضمانكم".',
    ),
    "username": ("Login", "اسم المستخدم"),
    "password": ("Mot de passe", "كلمة السر"),
    "login": ("Se connecter", "الدخول"),
    "session_ended": ("Vous êtes déconnecté.", "تم تسجيل خروجكم."),
    "employers_only": (
        "Ce portail est réservé aux comptes employeurs.",
        "هذه البوابة مخصصة لحسابات المشغلين.",
    ),
    # affiliation
    "affiliation_title": ("Identification de l'affilié demandeur", "تحديد هوية المنخرط صاحب الطلب"),
    "affiliation_intro": (
        "Compte groupe : choisissez l'affiliation concernée par votre demande de l'IPE.",
        "حساب جماعي: اختاروا رقم الانخراط موضوع طلب التعويض عن فقدان الشغل.",
    ),
    "affiliation": ("Affiliation", "رقم الانخراط"),
    "choose": ("Choisir", "اختيار"),
    "current_affiliation": ("Affiliation", "رقم الانخراط"),
    "change_affiliation": ("changer d'affiliation", "تغيير رقم الانخراط"),
    # new claim
    "new_claim": ("Nouvelle demande", "طلب جديد"),
    "history": ("historique des demandes", "سجل الطلبات"),
    "insured_title": ("Assurés de l'affiliation", "المؤمن لهم التابعون للانخراط"),
    "insured_intro": (
        "Dans la colonne « Action », choisissez l'assuré concerné et cliquez sur « créer demande ».",
        "على مستوى العمود « Action » اختاروا المؤمن المعني واضغطوا على « créer demande ».",
    ),
    "search": ("Rechercher (immatriculation ou nom)", "بحث (رقم التسجيل أو الاسم)"),
    "search_button": ("Rechercher", "بحث"),
    "days_cumulated": (
        "Nombre de jours cumulés (36 derniers mois)",
        "عدد الأيام المتراكمة (36 شهرا الأخيرة)",
    ),
    "action": ("Action", "Action"),
    "create_claim": ("créer demande", "إنشاء طلب"),
    "no_insured": (
        "Aucun assuré déclaré par cette affiliation.",
        "لا يوجد مؤمن له مصرح به من طرف هذا الانخراط.",
    ),
    "more_insured": (
        "Seuls les premiers assurés sont affichés : affinez la recherche.",
        "لا يظهر إلا المؤمن لهم الأوائل: دققوا البحث.",
    ),
    "form_title": ("Création d'une nouvelle demande IPE", "إنشاء طلب جديد للتعويض عن فقدان الشغل"),
    "identification_number": ("Nombre d'identification", "رقم التسجيل"),
    "date": ("Date", "التاريخ"),
    "full_name": ("Prénom et nom", "الاسم الشخصي والعائلي"),
    "job_loss_date": ("Date de perte d'emploi", "تاريخ فقدان الشغل"),
    "motif": ("Motif de perte d'emploi", "سبب فقدان الشغل"),
    "choose_motif": ("— Choisir un motif —", "— اختاروا السبب —"),
    "attestation": (
        "J'atteste l'exactitude des informations liées à la perte d'emploi déclarées ci-dessus",
        "أشهد بصحة المعلومات المتعلقة بفقدان الشغل المصرح بها اعلاه",
    ),
    "validate": ("Valider", "Valider"),
    "cancel": ("Annuler", "إلغاء"),
    "error_title": ("La demande n'est pas valide", "الطلب غير صالح"),
    # confirmation
    "confirm_title": ("Confirmation de la validation", "تأكيد المصادقة"),
    "confirm_question": (
        "Est-ce que vous confirmez la validation de votre demande avec les informations suivantes :",
        "هل تؤكدون المصادقة على طلبكم بالمعلومات التالية:",
    ),
    "insured": ("Assuré.e", "المؤمن له"),
    "yes": ("Oui", "نعم"),
    "no": ("Non", "لا"),
    "deposit_notice": (
        "Nous vous informons que le dépôt de la demande de perte d'emploi sera notifié à l'assuré concerné.",
        "نحيطكم علما انه سيتم اخبار المؤمن له بايداع طلب التعويض عن فقدان الشغل الخاص به",
    ),
    "deposited": ("Votre demande a été déposée.", "تم إيداع طلبكم."),
    # history
    "history_intro": (
        "L'état d'avancement de vos demandes et les motifs en cas de rejet.",
        "مآل طلباتكم وأسباب الرفض عند الاقتضاء.",
    ),
    "filters": ("Filtres", "التصفية"),
    "situation": ("Situation", "الوضعية"),
    "all": ("Toutes", "الكل"),
    "filed_from": ("Déposées à partir du", "المودعة ابتداء من"),
    "filed_to": ("Déposées jusqu'au", "المودعة إلى غاية"),
    "filter": ("Filtrer", "تصفية"),
    "export": ("Exporter en CSV", "تصدير بصيغة CSV"),
    "no_claims": ("Aucune demande.", "لا توجد طلبات."),
    "next_page": ("Demandes plus anciennes", "الطلبات الأقدم"),
    "see": ("voir", "عرض"),
    "bad_filter": (
        "Filtre invalide : dates au format AAAA-MM-JJ.",
        "تصفية غير صالحة: التواريخ بصيغة YYYY-MM-DD.",
    ),
    # claim page
    "claim_title": ("Demande IPE", "طلب التعويض عن فقدان الشغل"),
    "decision": ("Décision", "القرار"),
    "pending": ("La demande est en cours d'examen.", "الطلب قيد الدراسة."),
    "awaiting": (
        "Pièce manquante : la déclaration de l'affiliation {aff} pour le mois {month}, attendue au plus tard le {due}.",
        "وثيقة ناقصة: تصريح الانخراط {aff} عن شهر {month}، منتظر في أجل أقصاه {due}.",
    ),
    "rule": ("Condition", "الشرط"),
    "outcome": ("Résultat", "النتيجة"),
    "passed": ("remplie", "مستوفى"),
    "failed": ("non remplie", "غير مستوفى"),
    "amount": ("Montant mensuel (DH)", "المبلغ الشهري (درهم)"),
    "duration": ("Durée (mois)", "المدة (أشهر)"),
    "ruleset": ("Règles appliquées", "القواعد المطبقة"),
    "notifications": ("Notifications à l'assuré", "الإشعارات الموجهة إلى المؤمن له"),
    "no_notifications": ("Aucune notification pour l'instant.", "لا توجد إشعارات حاليا."),
    "subject": ("Objet", "الموضوع"),
    "channel": ("Canal", "القناة"),
    "status": ("État", "الحالة"),
    "requested_at": ("Demandée le", "تاريخ الطلب"),
    "sent_at": ("Envoyée le", "تاريخ الإرسال"),
    "dossier": ("Dossier", "الملف"),
    "dossier_complete": ("Dossier complet.", "الملف مكتمل."),
    "dossier_missing": (
        "Pièces manquantes ou non encore vérifiées :",
        "الوثائق الناقصة أو غير المتحقق منها بعد:",
    ),
    "back_to_history": ("Retour à l'historique", "العودة إلى السجل"),
    # errors
    "not_found": ("Page introuvable.", "الصفحة غير موجودة."),
    "csrf": (
        "Formulaire expiré ou invalide : rechargez la page et recommencez.",
        "الاستمارة منتهية الصلاحية أو غير صالحة: أعيدوا تحميل الصفحة والمحاولة.",
    ),
}

# The seed's history headings, in its order (also the CSV's, services/claim_intake/routes/history.py).
COLUMNS: dict[str, tuple[str, str]] = {
    "immatriculation": ("Identification", "رقم التسجيل"),
    "cin": ("C.I.R.", "رقم البطاقة الوطنية"),
    "nom": ("Nom", "الاسم العائلي"),
    "prenoms": ("Prénoms", "الاسم الشخصي"),
    "claim_id": ("Numero Affecté", "الرقم المخصص"),
    "motif_label": ("Motif Perte Emploi", "سبب فقدان الشغل"),
    "job_loss_date": ("Date Perte Emploi", "تاريخ فقدان الشغل"),
    "situation": ("Situation", "الوضعية"),
    "situation_date": ("Date situation", "تاريخ الوضعية"),
    "rejection_reason": ("Motif Rejet", "سبب الرفض"),
}
SITUATIONS: dict[str, tuple[str, str]] = {
    "En cours": ("En cours", "قيد الدراسة"),
    "Valable": ("Valable", "مقبول"),
    "Rejeté": ("Rejeté", "مرفوض"),
}


def words(lang: str) -> Mapping[str, str]:
    """The portal's texts in ``lang`` (fr or ar)."""
    index = LANGUAGES.index(lang)
    return {key: pair[index] for key, pair in _TEXTS.items()}


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[LANGUAGES.index(lang)]
