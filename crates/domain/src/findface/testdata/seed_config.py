# -*- coding: utf-8 -*-
# /etc/ffsecurity/config.py of findface-security, as described in
# shared/seed/findface-security.txt: every code line of the seed is here verbatim (a test checks),
# and the lines the seed leaves out are filled in the way the vendor's file has them.

MEDIA_ROOT = "/var/lib/ffsecurity/uploads"
STATIC_ROOT = "/var/lib/ffsecurity/static"


DEBUG = False

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'

DATABASES = {
   'default': {
       'ENGINE': 'django.db.backends.postgresql',
       'NAME': 'ffsecurity',
   }
}

# use pwgen -sncy 50 1|tr "'" "." to generate your own unique key
SECRET_KEY = 'c8b533847bbf7142102de1349d33a1f6'

FFSECURITY = {
   'CONFIDENCE_THRESHOLD': 0.75,
   'EXTERNAL_ADDRESS': 'http://192.168.112.10',
   'VIDEO_DETECTOR_TOKEN': '381b0f4a20495227d04185ab02f5085f',
   'VIDEO_MANAGER_ADDRESS': 'http://127.0.0.1:18810',
   'EVENTS_MAX_AGE': 30,
   'NTLS_HTTP_URL': '',
   'ROUTER_URL': '',
   'SF_API_ADDRESS': '',
   'IGNORE_UNMATCHED': False,
   'MINIMUM_DOSSIER_QUALITY': -2,
   'START_COUNTER': True,
   'EVENTS_FEATURES': ['gender', 'age', 'emotions', 'beard', 'glasses'],
   'LIVENESS_THRESHOLD': 0.75,
   'BEARD_THRESHOLD': 0.7,
}

ASGI_THREADS = 16

UVICORN_SETTINGS = {
   'workers': 4,
   'host': 'localhost',
   'port': 8002,
}

FFSECURITY_UI_CONFIG = {
   "event": {
       "features": {
           "f_gender_class": ["male", "female"],
           "age": {
               "f_age_gte": "",
               "f_age_lte": ""
           },
           "f_emotions_class": ["angry", "disgust", "fear", "happy", "sad", "surprise"],
           "f_glasses_class": ["none", "eye", "sun"],
           "f_beard_class": ["none", "beard"],
           "f_liveness_class": ["real", "fake"],
       }
   }
}

# integration plugins
INSTALLED_APPS.append('ffsecurity_genetec')  # remove or comment out this line to disable genetec integration
